/* test_tlspush.c - unit tests for the record transport: a held record leaves
 * with the next one, in order and exactly once, also when the socket is full
 * and writes are partial. Over a non-blocking AF_UNIX stream socketpair. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "moat/tlspush.h"

static int sv[2]; /* sv[0]: the transport's end, sv[1]: the reader's */

static void setup(void)
{
    int small = 4096;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    ck_assert_int_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
}

static void teardown(void)
{
    close(sv[0]);
    close(sv[1]);
}

/* Reads what is there (up to cap) into buf; returns the count. */
static size_t drain(unsigned char *buf, size_t cap)
{
    size_t got = 0;
    ssize_t n;

    while (got < cap) {
        n = read(sv[1], buf + got, cap - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

/* One write of len bytes of value c through the push function. */
static ssize_t put(struct moat_tlspush *tp, unsigned char c, size_t len)
{
    unsigned char *b = malloc(len);
    giovec_t v[2];
    ssize_t n;

    ck_assert_ptr_nonnull(b);
    memset(b, c, len);
    /* Two vectors, as GnuTLS passes a record's header and payload. */
    v[0].iov_base = b;
    v[0].iov_len = len / 2;
    v[1].iov_base = b + len / 2;
    v[1].iov_len = len - len / 2;
    n = moat_tlspush_vec(tp, v, 2);
    free(b);
    return n;
}

START_TEST(test_plain_write)
{
    struct moat_tlspush tp;
    unsigned char buf[64];

    moat_tlspush_init(&tp, sv[0]);
    ck_assert_int_eq(put(&tp, 'a', 10), 10);
    ck_assert_uint_eq(drain(buf, sizeof(buf)), 10);
    ck_assert_int_eq(buf[0], 'a');
    ck_assert_ptr_null(tp.buf); /* nothing held, nothing allocated */
    moat_tlspush_free(&tp);
}
END_TEST

START_TEST(test_held_goes_with_next)
{
    struct moat_tlspush tp;
    unsigned char buf[64];

    moat_tlspush_init(&tp, sv[0]);
    moat_tlspush_hold_next(&tp);
    ck_assert_int_eq(put(&tp, 'h', 20), 20);
    ck_assert_uint_eq(drain(buf, sizeof(buf)), 0); /* held: not on the wire yet */
    ck_assert_uint_eq(tp.cap, 1024);               /* sized to the record, not the limit */
    ck_assert_int_eq(put(&tp, 'b', 5), 5);         /* only the body's bytes are its own */
    ck_assert_uint_eq(drain(buf, sizeof(buf)), 25);
    ck_assert_int_eq(buf[0], 'h');
    ck_assert_int_eq(buf[19], 'h');
    ck_assert_int_eq(buf[20], 'b');
    ck_assert_int_eq(buf[24], 'b');
    /* The hold was for one record only. */
    ck_assert_int_eq(put(&tp, 'c', 3), 3);
    ck_assert_uint_eq(drain(buf, sizeof(buf)), 3);
    /* A larger record later grows the buffer; its bytes still lead the next write. */
    moat_tlspush_hold_next(&tp);
    ck_assert_int_eq(put(&tp, 'H', 40), 40);
    ck_assert_uint_eq(tp.cap, 1024);
    ck_assert_int_eq(put(&tp, 'B', 2), 2);
    ck_assert_uint_eq(drain(buf, sizeof(buf)), 42);
    ck_assert_int_eq(buf[39], 'H');
    ck_assert_int_eq(buf[40], 'B');
    moat_tlspush_free(&tp);
}
END_TEST

START_TEST(test_large_record_not_held)
{
    struct moat_tlspush tp;
    unsigned char *buf = malloc(MOAT_TLSPUSH_HOLD_MAX + 1);
    int big = 1 << 20;

    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
    moat_tlspush_init(&tp, sv[0]);
    moat_tlspush_hold_next(&tp);
    ck_assert_int_eq(put(&tp, 'x', MOAT_TLSPUSH_HOLD_MAX + 1), MOAT_TLSPUSH_HOLD_MAX + 1);
    ck_assert_uint_eq(tp.len, 0);
    ck_assert_uint_eq(drain(buf, MOAT_TLSPUSH_HOLD_MAX + 1), MOAT_TLSPUSH_HOLD_MAX + 1);
    moat_tlspush_free(&tp);
    free(buf);
}
END_TEST

START_TEST(test_flush)
{
    struct moat_tlspush tp;
    unsigned char buf[64], big[4096];

    moat_tlspush_init(&tp, sv[0]);
    ck_assert_int_eq(moat_tlspush_flush(&tp), 0); /* nothing held */
    moat_tlspush_hold_next(&tp);
    ck_assert_int_eq(put(&tp, 'h', 30), 30);
    ck_assert_int_eq(moat_tlspush_flush(&tp), 0);
    ck_assert_uint_eq(tp.len, 0);
    ck_assert_uint_eq(drain(buf, sizeof(buf)), 30);
    /* a larger record grows the buffer (to 2 KiB for 1500 bytes) */
    moat_tlspush_hold_next(&tp);
    ck_assert_int_eq(put(&tp, 'g', 1500), 1500);
    ck_assert_uint_eq(tp.cap, 2048);
    ck_assert_int_eq(moat_tlspush_flush(&tp), 0);
    ck_assert_uint_eq(drain(big, 4096), 1500);
    ck_assert_int_eq(big[0], 'g');
    ck_assert_int_eq(big[1499], 'g');
    moat_tlspush_free(&tp);
    ck_assert_uint_eq(tp.cap, 0);
}
END_TEST

/* Fills the socket, then holds a record and writes another: the writes
 * report EAGAIN until the reader makes room, some of them partial; the
 * reader must see the filler, then the held record, then the next one,
 * each byte exactly once. */
START_TEST(test_full_socket_order)
{
    struct moat_tlspush tp;
    size_t filler = 0, held = 1500, body = 700, expect, got = 0, i;
    unsigned char *seen = malloc(1 << 20), *chunk = malloc(1 << 16);
    ssize_t n;
    int tries = 0, again = 0;

    ck_assert_ptr_nonnull(seen);
    ck_assert_ptr_nonnull(chunk);
    moat_tlspush_init(&tp, sv[0]);
    while ((n = put(&tp, 'f', 512)) > 0)
        filler += (size_t)n;
    ck_assert(n < 0 && errno == EAGAIN);
    ck_assert_uint_gt(filler, 0);

    moat_tlspush_hold_next(&tp);
    ck_assert_int_eq(put(&tp, 'h', held), (ssize_t)held); /* held even on a full socket */
    expect = filler + held + body;
    for (;;) {
        n = put(&tp, 'b', body);
        if (n == (ssize_t)body)
            break;
        ck_assert_int_eq(n, -1);
        ck_assert_int_eq(errno, EAGAIN);
        again++;
        /* Make a little room: 300 bytes at a time forces partial writes. */
        n = read(sv[1], seen + got, 300);
        if (n > 0)
            got += (size_t)n;
        ck_assert_int_lt(++tries, 100000);
    }
    ck_assert_int_gt(again, 0);
    ck_assert_uint_eq(tp.len, 0);
    while (got < expect) {
        n = read(sv[1], chunk, 1 << 16);
        ck_assert_int_gt(n, 0);
        ck_assert_uint_le(got + (size_t)n, expect);
        memcpy(seen + got, chunk, (size_t)n);
        got += (size_t)n;
    }
    ck_assert_uint_eq(drain(chunk, 1 << 16), 0); /* nothing extra */
    for (i = 0; i < expect; i++) {
        unsigned char want = i < filler ? 'f' : i < filler + held ? 'h' : 'b';
        ck_assert_msg(seen[i] == want, "byte %zu is %c, want %c", i, seen[i], want);
    }
    moat_tlspush_free(&tp);
    free(seen);
    free(chunk);
}
END_TEST

/* A flush into a full socket reports -1 and keeps what it could not send;
 * once the reader makes room, the next flush sends it, once. */
START_TEST(test_flush_full_socket)
{
    struct moat_tlspush tp;
    unsigned char *buf = malloc(1 << 20);
    size_t filler = 0, got;
    ssize_t n;

    ck_assert_ptr_nonnull(buf);
    moat_tlspush_init(&tp, sv[0]);
    while ((n = put(&tp, 'f', 512)) > 0)
        filler += (size_t)n;
    moat_tlspush_hold_next(&tp);
    ck_assert_int_eq(put(&tp, 'h', 1000), 1000);
    ck_assert_int_eq(moat_tlspush_flush(&tp), -1);
    ck_assert_uint_eq(tp.len - tp.off, 1000);
    got = drain(buf, 1 << 20);
    ck_assert_uint_eq(got, filler);
    ck_assert_int_eq(moat_tlspush_flush(&tp), 0);
    ck_assert_uint_eq(drain(buf, 1 << 20), 1000);
    ck_assert_int_eq(buf[0], 'h');
    moat_tlspush_free(&tp);
    free(buf);
}
END_TEST

/* A write error (peer gone) is reported, not swallowed. */
START_TEST(test_broken_socket)
{
    struct moat_tlspush tp;

    moat_tlspush_init(&tp, sv[0]);
    moat_tlspush_hold_next(&tp);
    ck_assert_int_eq(put(&tp, 'h', 10), 10);
    close(sv[1]);
    sv[1] = open("/dev/null", O_RDONLY); /* keep teardown's close valid */
    ck_assert_int_eq(put(&tp, 'b', 10), -1);
    ck_assert_int_eq(errno, EPIPE);
    ck_assert_int_eq(moat_tlspush_flush(&tp), -1);
    moat_tlspush_free(&tp);
    ck_assert_uint_eq(tp.len, 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tlspush");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_plain_write);
    tcase_add_test(tc, test_held_goes_with_next);
    tcase_add_test(tc, test_large_record_not_held);
    tcase_add_test(tc, test_flush);
    tcase_add_test(tc, test_full_socket_order);
    tcase_add_test(tc, test_flush_full_socket);
    tcase_add_test(tc, test_broken_socket);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
