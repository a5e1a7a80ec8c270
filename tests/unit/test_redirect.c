/* test_redirect.c - unit tests for the plain-HTTP redirect decision (open-redirect tricks first).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "moat/redirect.h"

#define LOC_CAP 512

/* 63 and 64 bytes: the longest DNS label and one more. */
#define L63 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"
#define L64 L63 "l"

/* The policies the table refers to. */
enum pol_id {
    P_CANON = 0, /* example.com + aliases, port 443, 308, 421, default exemptions */
    P_PORT,      /* "Example.COM." on 8443, 301 for GET/HEAD, 400 for a wrong Host */
    P_CERT,      /* no canonical host: certificate names with a wildcard, 8443, 301 */
    P_V6,        /* canonical IPv6 literal on 8443 */
    P_EXEMPT,    /* custom exemptions */
    P_EMPTY,     /* no name at all */
    P_COUNT,
};

static const char *const canon_aliases[] = {"www.example.com", "EXAMPLE.net.", "[2001:db8::1]"};
static const char *const cert_names[] = {
    "*.example.org", "example.org", "2001:db8::2", "xn--bcher-kva.example",
    "bad name!",     "*.com",       "*",           NULL,
};
static const struct moat_redirect_exemption custom_exemptions[] = {
    {"/healthz", 0, MOAT_REDIRECT_EXEMPT_HEALTH},
    {"/status/", 1, MOAT_REDIRECT_EXEMPT_HEALTH},
    {"/.well-known/acme-challenge", 1, MOAT_REDIRECT_EXEMPT_PROXY},
    {"/app/exact", 0, MOAT_REDIRECT_EXEMPT_PROXY},
    {NULL, 1, MOAT_REDIRECT_EXEMPT_HEALTH},
    {"relative", 1, MOAT_REDIRECT_EXEMPT_HEALTH},
};

/* Builds policy `id` into p (borrowing the static tables above). */
static void policy_get(enum pol_id id, struct moat_redirect_policy *p)
{
    moat_redirect_policy_init(p);
    switch (id) {
    case P_CANON:
        p->canonical_host = "example.com";
        p->aliases = canon_aliases;
        p->n_aliases = sizeof(canon_aliases) / sizeof(canon_aliases[0]);
        p->cert_names = cert_names; /* ignored: there is a canonical host */
        p->n_cert_names = sizeof(cert_names) / sizeof(cert_names[0]);
        break;
    case P_PORT:
        p->canonical_host = "Example.COM.";
        p->https_port = 8443;
        p->code_mode = MOAT_REDIRECT_CODE_MIXED;
        p->wrong_host_status = 400;
        break;
    case P_CERT:
        p->canonical_host = "";
        p->cert_names = cert_names;
        p->n_cert_names = sizeof(cert_names) / sizeof(cert_names[0]);
        p->https_port = 8443;
        p->code_mode = MOAT_REDIRECT_CODE_301;
        break;
    case P_V6:
        p->canonical_host = "[2001:DB8::1]";
        p->https_port = 8443;
        break;
    case P_EXEMPT:
        p->canonical_host = "example.com";
        p->exemptions = custom_exemptions;
        p->n_exemptions = sizeof(custom_exemptions) / sizeof(custom_exemptions[0]);
        break;
    case P_EMPTY:
    case P_COUNT:
        break;
    }
}

/* One request and the decision expected for it. */
struct rd_case {
    const char *label;                /* shown on failure */
    enum pol_id pol;                  /* policy */
    const char *method;               /* request method */
    const char *target;               /* raw request target */
    const char *host;                 /* Host value (NULL = absent) */
    enum moat_redirect_action action; /* expected action */
    int status;                       /* expected status */
    const char *reason;               /* expected reason */
    const char *want;                 /* Location (REDIRECT), path (PROXY/HEALTH), NULL */
};

#define EX "example.com"
#define R308(loc) MOAT_REDIRECT_REDIRECT, 308, "redirect", loc
#define R301(loc) MOAT_REDIRECT_REDIRECT, 301, "redirect", loc
#define REJ(st, r) MOAT_REDIRECT_REJECT, st, r, NULL
#define NOT_OURS REJ(421, "host_not_allowed")
#define BAD_HOST REJ(400, "bad_host")
#define BAD_TARGET REJ(400, "bad_target")
#define HEALTH(p) MOAT_REDIRECT_HEALTH, 0, "exempt_health", p
#define PROXY(p) MOAT_REDIRECT_PROXY, 0, "exempt_proxy", p
#define HTTPS_EX "https://example.com"

/* clang-format off */
static const struct rd_case cases[] = {
    /* the plain redirect */
    {"root", P_CANON, "GET", "/", EX, R308(HTTPS_EX "/")},
    {"path and query", P_CANON, "GET", "/a/b?c=d&e=f", EX, R308(HTTPS_EX "/a/b?c=d&e=f")},
    {"post", P_CANON, "POST", "/form", EX, R308(HTTPS_EX "/form")},
    {"custom method", P_CANON, "PURGE", "/x", EX, R308(HTTPS_EX "/x")},
    {"empty method", P_CANON, "", "/", EX, REJ(400, "bad_method")},
    {"method with space", P_CANON, "GE T", "/", EX, REJ(400, "bad_method")},

    /* Host: case, trailing dot, port, aliases, IPv6, IDN */
    {"host upper", P_CANON, "GET", "/", "EXAMPLE.COM", R308(HTTPS_EX "/")},
    {"host trailing dot", P_CANON, "GET", "/", "example.com.", R308(HTTPS_EX "/")},
    {"host two trailing dots", P_CANON, "GET", "/", "example.com..", BAD_HOST},
    {"host lone dot", P_CANON, "GET", "/", ".", BAD_HOST},
    {"host port not reflected", P_CANON, "GET", "/", "example.com:8080", R308(HTTPS_EX "/")},
    {"host dot and port", P_CANON, "GET", "/", "example.com.:80", R308(HTTPS_EX "/")},
    {"alias", P_CANON, "GET", "/x", "www.example.com", R308(HTTPS_EX "/x")},
    {"alias with dot in policy", P_CANON, "GET", "/", "example.NET", R308(HTTPS_EX "/")},
    {"alias v6", P_CANON, "GET", "/", "[2001:db8::1]:8080", R308(HTTPS_EX "/")},
    {"alias v6 other spelling", P_CANON, "GET", "/", "[2001:DB8:0:0::1]", R308(HTTPS_EX "/")},
    {"other v6", P_CANON, "GET", "/", "[::1]", NOT_OURS},
    {"ipv4 host", P_CANON, "GET", "/", "10.0.0.5", NOT_OURS},
    {"foreign host", P_CANON, "GET", "/", "evil.example", NOT_OURS},
    {"suffix trick", P_CANON, "GET", "/", "example.com.evil.example", NOT_OURS},
    {"prefix trick", P_CANON, "GET", "/", "evilexample.com", NOT_OURS},
    {"subdomain", P_CANON, "GET", "/", "sub.example.com", NOT_OURS},
    {"cert names ignored with canonical", P_CANON, "GET", "/", "example.org", NOT_OURS},
    {"missing host", P_CANON, "GET", "/", NULL, REJ(400, "missing_host")},
    {"empty host", P_CANON, "GET", "/", "", REJ(400, "missing_host")},
    {"userinfo host", P_CANON, "GET", "/", "evil@example.com", BAD_HOST},
    {"userinfo host 2", P_CANON, "GET", "/", "example.com@evil.example", BAD_HOST},
    {"empty port", P_CANON, "GET", "/", "example.com:", BAD_HOST},
    {"big port", P_CANON, "GET", "/", "example.com:99999", BAD_HOST},
    {"two ports", P_CANON, "GET", "/", "example.com:80:80", BAD_HOST},
    {"host with path", P_CANON, "GET", "/", "example.com/evil", BAD_HOST},
    {"host with backslash", P_CANON, "GET", "/", "example.com\\evil", BAD_HOST},
    {"host encoded", P_CANON, "GET", "/", "exa%6dple.com", BAD_HOST},
    {"host crlf", P_CANON, "GET", "/", "example.com\r\nX-A: b", BAD_HOST},
    {"host space", P_CANON, "GET", "/", "example.com evil", BAD_HOST},
    {"host utf8", P_CANON, "GET", "/", "b\xc3\xbc" "cher.example", BAD_HOST},
    {"host bare v6", P_CANON, "GET", "/", "2001:db8::1", BAD_HOST},
    {"host v6 zone", P_CANON, "GET", "/", "[fe80::1%25eth0]", BAD_HOST},
    {"host unclosed v6", P_CANON, "GET", "/", "[2001:db8::1", BAD_HOST},
    {"no names", P_EMPTY, "GET", "/", EX, NOT_OURS},

    /* leading separators can never become an authority */
    {"double slash", P_CANON, "GET", "//evil.example", EX, R308(HTTPS_EX "/evil.example")},
    {"triple slash", P_CANON, "GET", "///evil.example/x", EX, R308(HTTPS_EX "/evil.example/x")},
    {"slash backslash", P_CANON, "GET", "/\\evil.example", EX, R308(HTTPS_EX "/evil.example")},
    {"backslashes", P_CANON, "GET", "/\\\\evil.example", EX, R308(HTTPS_EX "/evil.example")},
    {"encoded slashes", P_CANON, "GET", "/%2f%2fevil.example", EX, R308(HTTPS_EX "/evil.example")},
    {"encoded upper", P_CANON, "GET", "/%2F%5Cevil.example", EX, R308(HTTPS_EX "/evil.example")},
    {"encoded backslashes", P_CANON, "GET", "/%5c%5cevil", EX, R308(HTTPS_EX "/evil")},
    {"mixed separators", P_CANON, "GET", "/\\/%2f\\%5Cevil", EX, R308(HTTPS_EX "/evil")},
    {"only slashes", P_CANON, "GET", "////", EX, R308(HTTPS_EX "/")},
    {"only slashes query", P_CANON, "GET", "//?a=1", EX, R308(HTTPS_EX "/?a=1")},
    {"backslash first", P_CANON, "GET", "\\\\evil.example", EX, BAD_TARGET},
    {"dot then slashes", P_CANON, "GET", "/.//evil.example", EX, R308(HTTPS_EX "/evil.example")},
    {"encoded dot then slashes", P_CANON, "GET", "/%2e//evil", EX, R308(HTTPS_EX "/evil")},
    {"dotdot then slashes", P_CANON, "GET", "/a/..//evil", EX, R308(HTTPS_EX "/evil")},
    {"dotdot above root", P_CANON, "GET", "/a/../../..//evil", EX, R308(HTTPS_EX "/evil")},
    {"encoded dotdot", P_CANON, "GET", "/a/.%2E/%2e%2e/\\evil", EX, R308(HTTPS_EX "/evil")},
    {"dotdot then encoded slash", P_CANON, "GET", "/a/../%2f%2fevil", EX, R308(HTTPS_EX "/evil")},
    {"userinfo in path", P_CANON, "GET", "/@evil.example", EX, R308(HTTPS_EX "/@evil.example")},
    {"userinfo after slashes", P_CANON, "GET", "//user@evil.example/", EX,
     R308(HTTPS_EX "/user@evil.example/")},
    {"colon first", P_CANON, "GET", "/:evil", EX, R308(HTTPS_EX "/:evil")},

    /* interior paths: kept, never decoded, unsafe bytes encoded */
    {"interior double slash", P_CANON, "GET", "/a//b", EX, R308(HTTPS_EX "/a//b")},
    {"interior backslash", P_CANON, "GET", "/a\\b", EX, R308(HTTPS_EX "/a%5Cb")},
    {"interior encoded slash", P_CANON, "GET", "/a/%2f/b", EX, R308(HTTPS_EX "/a/%2f/b")},
    {"dot segments", P_CANON, "GET", "/a/./b/../c", EX, R308(HTTPS_EX "/a/c")},
    {"dotdot at end", P_CANON, "GET", "/a/b/..", EX, R308(HTTPS_EX "/a/")},
    {"dot at end", P_CANON, "GET", "/a/.", EX, R308(HTTPS_EX "/a/")},
    {"dot before query", P_CANON, "GET", "/a/.?q", EX, R308(HTTPS_EX "/a/?q")},
    {"three dots", P_CANON, "GET", "/.../x", EX, R308(HTTPS_EX "/.../x")},
    {"dotdot word", P_CANON, "GET", "/..a/b..", EX, R308(HTTPS_EX "/..a/b..")},
    {"trailing slash", P_CANON, "GET", "/a/", EX, R308(HTTPS_EX "/a/")},
    {"angle brackets", P_CANON, "GET", "/<script>", EX, R308(HTTPS_EX "/%3Cscript%3E")},
    {"quote", P_CANON, "GET", "/a\"b'c", EX, R308(HTTPS_EX "/a%22b'c")},
    {"braces pipe caret", P_CANON, "GET", "/{a}|b^`", EX, R308(HTTPS_EX "/%7Ba%7D%7Cb%5E%60")},
    {"square brackets", P_CANON, "GET", "/[x]", EX, R308(HTTPS_EX "/%5Bx%5D")},
    {"sub-delims kept", P_CANON, "GET", "/a!$&'()*+,;=:@~_-.b", EX,
     R308(HTTPS_EX "/a!$&'()*+,;=:@~_-.b")},
    {"escapes kept", P_CANON, "GET", "/%41%7e%C3%A9", EX, R308(HTTPS_EX "/%41%7e%C3%A9")},
    {"bad escape", P_CANON, "GET", "/%zz", EX, R308(HTTPS_EX "/%25zz")},
    {"lone percent", P_CANON, "GET", "/%", EX, R308(HTTPS_EX "/%25")},
    {"short escape", P_CANON, "GET", "/%4", EX, R308(HTTPS_EX "/%254")},
    {"utf8 path", P_CANON, "GET", "/caf\xc3\xa9", EX, R308(HTTPS_EX "/caf%C3%A9")},

    /* control bytes, fragments, odd forms */
    {"raw crlf", P_CANON, "GET", "/a\r\nLocation: http://evil", EX, BAD_TARGET},
    {"raw lf", P_CANON, "GET", "/a\nb", EX, BAD_TARGET},
    {"raw tab", P_CANON, "GET", "/a\tb", EX, BAD_TARGET},
    {"raw space", P_CANON, "GET", "/a b", EX, BAD_TARGET},
    {"raw del", P_CANON, "GET", "/a\x7f", EX, BAD_TARGET},
    {"raw ctl", P_CANON, "GET", "/a\x01", EX, BAD_TARGET},
    {"encoded crlf", P_CANON, "GET", "/foo%0d%0aSet-Cookie:x=1", EX, BAD_TARGET},
    {"encoded nul", P_CANON, "GET", "/foo%00", EX, BAD_TARGET},
    {"encoded del", P_CANON, "GET", "/foo%7F", EX, BAD_TARGET},
    {"encoded tab", P_CANON, "GET", "/foo%09", EX, BAD_TARGET},
    {"fragment", P_CANON, "GET", "/a#frag", EX, BAD_TARGET},
    {"fragment in query", P_CANON, "GET", "/a?b#c", EX, BAD_TARGET},
    {"empty target", P_CANON, "GET", "", EX, BAD_TARGET},
    {"asterisk", P_CANON, "OPTIONS", "*", EX, BAD_TARGET},
    {"relative", P_CANON, "GET", "evil.example", EX, BAD_TARGET},
    {"authority form", P_CANON, "GET", "example.com:80", EX, BAD_TARGET},
    {"javascript", P_CANON, "GET", "javascript:alert(1)", EX, BAD_TARGET},
    {"query only", P_CANON, "GET", "?a=b", EX, BAD_TARGET},

    /* query preservation */
    {"query kept", P_CANON, "GET", "/s?q=a+b&x=%20y&z", EX, R308(HTTPS_EX "/s?q=a+b&x=%20y&z")},
    {"query slashes", P_CANON, "GET", "/?next=//evil.example", EX,
     R308(HTTPS_EX "/?next=//evil.example")},
    {"query dot segments", P_CANON, "GET", "/a?b=/../c/./d", EX,
     R308(HTTPS_EX "/a?b=/../c/./d")},
    {"query backslash", P_CANON, "GET", "/?a=\\b", EX, R308(HTTPS_EX "/?a=%5Cb")},
    {"query question marks", P_CANON, "GET", "/p?x=1?y=2/z", EX, R308(HTTPS_EX "/p?x=1?y=2/z")},
    {"query encoded crlf kept", P_CANON, "GET", "/f?t=a%0D%0Ab", EX,
     R308(HTTPS_EX "/f?t=a%0D%0Ab")},
    {"query unsafe", P_CANON, "GET", "/?a=<b>\"c\"{}", EX,
     R308(HTTPS_EX "/?a=%3Cb%3E%22c%22%7B%7D")},
    {"empty query", P_CANON, "GET", "/a?", EX, R308(HTTPS_EX "/a?")},
    {"query bad escape", P_CANON, "GET", "/?%g1", EX, R308(HTTPS_EX "/?%25g1")},

    /* absolute-form */
    {"absolute", P_CANON, "GET", "http://example.com/a?b", EX, R308(HTTPS_EX "/a?b")},
    {"absolute no path", P_CANON, "GET", "HTTP://EXAMPLE.COM", EX, R308(HTTPS_EX "/")},
    {"absolute https", P_CANON, "GET", "https://example.com/x", EX, R308(HTTPS_EX "/x")},
    {"absolute alias slashes", P_CANON, "GET", "http://www.example.com:8080//evil", EX,
     R308(HTTPS_EX "/evil")},
    {"absolute userinfo", P_CANON, "GET", "http://good@evil.example/", EX, BAD_TARGET},
    {"absolute userinfo 2", P_CANON, "GET", "http://example.com@evil.example/", EX, BAD_TARGET},
    {"absolute foreign", P_CANON, "GET", "http://evil.example/", EX, NOT_OURS},
    {"absolute foreign host", P_CANON, "GET", "http://example.com/", "evil.example", NOT_OURS},
    {"absolute no host", P_CANON, "GET", "http://example.com/", NULL, REJ(400, "missing_host")},
    {"absolute ftp", P_CANON, "GET", "ftp://example.com/", EX, BAD_TARGET},
    {"absolute query no path", P_CANON, "GET", "http://example.com?x", EX, BAD_TARGET},
    {"absolute empty authority", P_CANON, "GET", "http:///evil.example", EX, BAD_TARGET},
    {"absolute backslash", P_CANON, "GET", "http://example.com\\evil.example/", EX, BAD_TARGET},
    {"absolute encoded", P_CANON, "GET", "http://evil.example%2f@example.com/", EX, BAD_TARGET},
    {"absolute v6", P_CANON, "GET", "http://[2001:db8::1]/p", EX, R308(HTTPS_EX "/p")},

    /* port and code modes */
    {"port canonical", P_PORT, "GET", "/x", "Example.com:8080",
     R301("https://example.com:8443/x")},
    {"mixed head", P_PORT, "HEAD", "/", EX, R301("https://example.com:8443/")},
    {"mixed post", P_PORT, "POST", "/", EX, R308("https://example.com:8443/")},
    {"mixed put", P_PORT, "PUT", "/", EX, R308("https://example.com:8443/")},
    {"mixed lower get", P_PORT, "get", "/", EX, R308("https://example.com:8443/")},
    {"wrong host 400", P_PORT, "GET", "/", "evil.example", REJ(400, "host_not_allowed")},
    {"301 get", P_CERT, "GET", "/", "example.org", R301("https://example.org:8443/")},
    {"301 post", P_CERT, "POST", "/", "example.org", R301("https://example.org:8443/")},
    {"308 head", P_CANON, "HEAD", "/", EX, R308(HTTPS_EX "/")},

    /* certificate names (no canonical host) */
    {"cert upper dot", P_CERT, "GET", "/a", "EXAMPLE.ORG.", R301("https://example.org:8443/a")},
    {"cert wildcard", P_CERT, "GET", "/", "a.example.org", R301("https://a.example.org:8443/")},
    {"cert wildcard case port", P_CERT, "GET", "/", "A-B.Example.Org:80",
     R301("https://a-b.example.org:8443/")},
    {"cert wildcard trailing dot", P_CERT, "GET", "/", "www.example.org.",
     R301("https://www.example.org:8443/")},
    {"cert wildcard 63", P_CERT, "GET", "/", L63 ".example.org",
     R301("https://" L63 ".example.org:8443/")},
    {"cert wildcard 64", P_CERT, "GET", "/", L64 ".example.org", NOT_OURS},
    {"cert wildcard two labels", P_CERT, "GET", "/", "a.b.example.org", NOT_OURS},
    {"cert wildcard underscore", P_CERT, "GET", "/", "_x.example.org", NOT_OURS},
    {"cert wildcard empty label", P_CERT, "GET", "/", ".example.org", BAD_HOST},
    {"cert wildcard suffix trick", P_CERT, "GET", "/", "a.example.org.evil", NOT_OURS},
    {"cert tld wildcard ignored", P_CERT, "GET", "/", "foo.com", NOT_OURS},
    {"cert invalid entry ignored", P_CERT, "GET", "/", "bad", NOT_OURS},
    {"cert v6", P_CERT, "GET", "/", "[2001:db8::2]:8080", R301("https://[2001:db8::2]:8443/")},
    {"cert punycode", P_CERT, "GET", "/", "xn--bcher-kva.example",
     R301("https://xn--bcher-kva.example:8443/")},
    {"cert punycode upper", P_CERT, "GET", "/", "XN--BCHER-KVA.example",
     R301("https://xn--bcher-kva.example:8443/")},
    {"cert utf8", P_CERT, "GET", "/", "b\xc3\xbc" "cher.example", BAD_HOST},
    {"cert absolute picks authority", P_CERT, "GET", "http://a.example.org/x", "b.example.org",
     R301("https://a.example.org:8443/x")},
    {"cert absolute foreign", P_CERT, "GET", "http://evil.example/x", "b.example.org",
     NOT_OURS},

    /* IPv6 canonical */
    {"v6 canonical", P_V6, "GET", "/x", "[2001:db8::1]:8080",
     R308("https://[2001:db8::1]:8443/x")},
    {"v6 canonical spelled", P_V6, "GET", "/", "[2001:db8:0::0:1]",
     R308("https://[2001:db8::1]:8443/")},
    {"v6 other", P_V6, "GET", "/", "[2001:db8::2]", NOT_OURS},
    {"v6 name host", P_V6, "GET", "/", EX, NOT_OURS},

    /* default exemptions */
    {"health any host", P_CANON, "GET", "/healthz", "10.0.0.5:8080", HEALTH("/healthz")},
    {"health no host", P_CANON, "GET", "/healthz", NULL, HEALTH("/healthz")},
    {"health bad host", P_CANON, "GET", "/healthz", "a@b", HEALTH("/healthz")},
    {"health query", P_CANON, "GET", "/healthz?probe=1", EX, HEALTH("/healthz?probe=1")},
    {"health trailing slash", P_CANON, "GET", "/healthz/", EX, HEALTH("/healthz/")},
    {"health normalised", P_CANON, "GET", "//x/../healthz", EX, HEALTH("/healthz")},
    {"health absolute", P_CANON, "GET", "http://10.0.0.5/healthz", NULL, HEALTH("/healthz")},
    {"health longer", P_CANON, "GET", "/healthzz", EX, R308(HTTPS_EX "/healthzz")},
    {"health below exact", P_CANON, "GET", "/healthz/x", EX, R308(HTTPS_EX "/healthz/x")},
    {"health case", P_CANON, "GET", "/HEALTHZ", EX, R308(HTTPS_EX "/HEALTHZ")},
    {"health encoded", P_CANON, "GET", "/%68ealthz", EX, R308(HTTPS_EX "/%68ealthz")},
    {"health bad target", P_CANON, "GET", "/healthz#x", NULL, BAD_TARGET},
    {"acme", P_CANON, "GET", "/.well-known/acme-challenge/TOK-1_x", EX,
     PROXY("/.well-known/acme-challenge/TOK-1_x")},
    {"acme alias", P_CANON, "GET", "/.well-known/acme-challenge/t", "www.example.com:8080",
     PROXY("/.well-known/acme-challenge/t")},
    {"acme bare", P_CANON, "GET", "/.well-known/acme-challenge", EX,
     PROXY("/.well-known/acme-challenge")},
    {"acme foreign host", P_CANON, "GET", "/.well-known/acme-challenge/t", "evil.example",
     NOT_OURS},
    {"acme ip host", P_CANON, "GET", "/.well-known/acme-challenge/t", "10.0.0.5", NOT_OURS},
    {"acme no host", P_CANON, "GET", "/.well-known/acme-challenge/t", NULL,
     REJ(400, "missing_host")},
    {"acme boundary", P_CANON, "GET", "/.well-known/acme-challengeX", EX,
     R308(HTTPS_EX "/.well-known/acme-challengeX")},
    {"acme normalised", P_CANON, "GET", "/.well-known/x/../acme-challenge/t", EX,
     PROXY("/.well-known/acme-challenge/t")},
    {"acme escape", P_CANON, "GET", "/.well-known/acme-challenge/../../evil", EX,
     R308(HTTPS_EX "/evil")},
    {"acme query", P_CANON, "GET", "/.well-known/acme-challenge/t?x=1", EX,
     PROXY("/.well-known/acme-challenge/t?x=1")},

    /* custom exemptions (invalid entries skipped) */
    {"prefix root", P_EXEMPT, "GET", "/status", "1.2.3.4", HEALTH("/status")},
    {"prefix deep", P_EXEMPT, "GET", "/status/deep/x", NULL, HEALTH("/status/deep/x")},
    {"prefix boundary", P_EXEMPT, "GET", "/statusx", EX, R308(HTTPS_EX "/statusx")},
    {"exact proxy", P_EXEMPT, "POST", "/app/exact", EX, PROXY("/app/exact")},
    {"exact proxy slash", P_EXEMPT, "POST", "/app/exact/", EX, PROXY("/app/exact/")},
    {"exact proxy below", P_EXEMPT, "POST", "/app/exact/sub", EX,
     R308(HTTPS_EX "/app/exact/sub")},
    {"prefix without slash", P_EXEMPT, "GET", "/.well-known/acme-challenge/t", EX,
     PROXY("/.well-known/acme-challenge/t")},
    {"no exemption", P_EXEMPT, "GET", "/other", EX, R308(HTTPS_EX "/other")},
};
/* clang-format on */

START_TEST(test_redirect_table)
{
    const struct rd_case *c = &cases[_i];
    struct moat_redirect_policy pol;
    struct moat_redirect_result res;
    char buf[LOC_CAP];
    int rc;

    policy_get(c->pol, &pol);
    rc = moat_redirect_decide(&pol, c->method, c->target, c->host,
                              c->host != NULL ? strlen(c->host) : 0, &res, buf, sizeof(buf));
    ck_assert_msg(rc == 0, "%s: rc %d", c->label, rc);
    ck_assert_msg(res.action == c->action, "%s: action %d, want %d (%s)", c->label, (int)res.action,
                  (int)c->action, res.reason);
    ck_assert_msg(res.status == c->status, "%s: status %d, want %d", c->label, res.status,
                  c->status);
    ck_assert_msg(strcmp(res.reason, c->reason) == 0, "%s: reason %s, want %s", c->label,
                  res.reason, c->reason);
    switch (res.action) {
    case MOAT_REDIRECT_REDIRECT:
        ck_assert_msg(res.location == buf && strcmp(buf, c->want) == 0, "%s: location %s, want %s",
                      c->label, buf, c->want);
        ck_assert_uint_eq(res.location_len, strlen(c->want));
        /* path points just past the authority, starting with one '/' */
        ck_assert(res.path > buf && res.path + res.path_len == buf + res.location_len);
        ck_assert(res.path[0] == '/' && res.path[1] != '/' && res.path[1] != '\\');
        break;
    case MOAT_REDIRECT_PROXY:
    case MOAT_REDIRECT_HEALTH:
        ck_assert_ptr_null(res.location);
        ck_assert_msg(res.path == buf && res.path_len == strlen(c->want) &&
                          strcmp(buf, c->want) == 0,
                      "%s: path %s, want %s", c->label, buf, c->want);
        break;
    case MOAT_REDIRECT_REJECT:
        ck_assert_ptr_null(res.location);
        ck_assert_ptr_null(res.path);
        ck_assert_uint_eq(res.location_len, 0);
        ck_assert_str_eq(buf, "");
        break;
    }
}
END_TEST

/* Location must fit with its NUL; bytes past cap are never written. */
START_TEST(test_location_cap)
{
    static const char *const want = "https://example.com:8443/abc?d";
    struct moat_redirect_policy pol;
    struct moat_redirect_result res;
    char buf[64];
    size_t need = strlen(want) + 1;
    size_t cap;

    policy_get(P_PORT, &pol);
    for (cap = 1; cap <= need + 2; cap++) {
        memset(buf, 'Z', sizeof(buf));
        ck_assert_int_eq(moat_redirect_decide(&pol, "GET", "/abc?d", EX, 11, &res, buf, cap), 0);
        ck_assert_msg(buf[cap] == 'Z', "wrote past cap %zu", cap);
        if (cap < need) {
            ck_assert_int_eq(res.action, MOAT_REDIRECT_REJECT);
            ck_assert_int_eq(res.status, 414);
            ck_assert_str_eq(res.reason, "uri_too_long");
            ck_assert_ptr_null(res.location);
        } else {
            ck_assert_int_eq(res.action, MOAT_REDIRECT_REDIRECT);
            ck_assert_str_eq(res.location, want);
        }
    }
}
END_TEST

/* A path longer than the buffer: 414 even for an exempt prefix. */
START_TEST(test_long_path)
{
    struct moat_redirect_policy pol;
    struct moat_redirect_result res;
    char target[3000];
    char buf[1024];

    policy_get(P_EXEMPT, &pol);
    memset(target, 'a', sizeof(target));
    memcpy(target, "/status/", 8);
    target[sizeof(target) - 1] = '\0';
    ck_assert_int_eq(moat_redirect_decide(&pol, "GET", target, EX, 11, &res, buf, sizeof(buf)), 0);
    ck_assert_int_eq(res.status, 414);
    /* encoding grows the path: 400 '<' become 1200 bytes */
    memset(target, '<', 400);
    target[0] = '/';
    target[400] = '\0';
    ck_assert_int_eq(moat_redirect_decide(&pol, "GET", target, EX, 11, &res, buf, sizeof(buf)), 0);
    ck_assert_int_eq(res.status, 414);
    target[300] = '\0';
    ck_assert_int_eq(moat_redirect_decide(&pol, "GET", target, EX, 11, &res, buf, sizeof(buf)), 0);
    ck_assert_int_eq(res.status, 308);
    ck_assert_uint_eq(res.location_len, strlen("https://example.com/") + 299 * 3);
}
END_TEST

/* Host is a counted string: bytes after host_len are not read as part of it. */
START_TEST(test_host_counted)
{
    struct moat_redirect_policy pol;
    struct moat_redirect_result res;
    char buf[128];

    policy_get(P_CANON, &pol);
    ck_assert_int_eq(
        moat_redirect_decide(&pol, "GET", "/", "example.comXXXX", 11, &res, buf, sizeof(buf)), 0);
    ck_assert_int_eq(res.status, 308);
    ck_assert_int_eq(
        moat_redirect_decide(&pol, "GET", "/", "example.co", 10, &res, buf, sizeof(buf)), 0);
    ck_assert_int_eq(res.status, 421);
}
END_TEST

START_TEST(test_bad_arguments)
{
    struct moat_redirect_policy pol;
    struct moat_redirect_result res;
    char buf[64];

    policy_get(P_CANON, &pol);
    ck_assert_int_eq(moat_redirect_decide(NULL, "GET", "/", EX, 11, &res, buf, 64), -1);
    ck_assert_int_eq(moat_redirect_decide(&pol, NULL, "/", EX, 11, &res, buf, 64), -1);
    ck_assert_int_eq(moat_redirect_decide(&pol, "GET", NULL, EX, 11, &res, buf, 64), -1);
    ck_assert_int_eq(moat_redirect_decide(&pol, "GET", "/", EX, 11, NULL, buf, 64), -1);
    ck_assert_int_eq(moat_redirect_decide(&pol, "GET", "/", EX, 11, &res, NULL, 64), -1);
    ck_assert_int_eq(moat_redirect_decide(&pol, "GET", "/", EX, 11, &res, buf, 0), -1);
    pol.https_port = 65536;
    ck_assert_int_eq(moat_redirect_decide(&pol, "GET", "/", EX, 11, &res, buf, 64), -1);
    pol.https_port = 0; /* 0 means 443 */
    ck_assert_int_eq(moat_redirect_decide(&pol, "GET", "/", EX, 11, &res, buf, 64), 0);
    ck_assert_str_eq(buf, "https://example.com/");
}
END_TEST

START_TEST(test_defaults)
{
    struct moat_redirect_policy pol;
    const struct moat_redirect_exemption *ex;
    size_t n = 0;

    moat_redirect_policy_init(&pol);
    ck_assert_uint_eq(pol.https_port, 443);
    ck_assert_int_eq(pol.code_mode, MOAT_REDIRECT_CODE_308);
    ck_assert_int_eq(pol.wrong_host_status, 421);
    ex = moat_redirect_default_exemptions(&n);
    ck_assert_ptr_eq(pol.exemptions, ex);
    ck_assert_uint_eq(pol.n_exemptions, n);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(ex[0].path, "/.well-known/acme-challenge/");
    ck_assert_int_eq(ex[0].prefix, 1);
    ck_assert_int_eq(ex[0].action, MOAT_REDIRECT_EXEMPT_PROXY);
    ck_assert_str_eq(ex[1].path, "/healthz");
    ck_assert_int_eq(ex[1].prefix, 0);
    ck_assert_int_eq(ex[1].action, MOAT_REDIRECT_EXEMPT_HEALTH);
}
END_TEST

/* One policy variation for moat_redirect_policy_check and the verdict. */
struct pc_case {
    const char *label;   /* shown on failure */
    const char *canon;   /* canonical host */
    const char *alias;   /* one alias (NULL = none) */
    const char *cert;    /* one certificate name (NULL = none) */
    unsigned int port;   /* https_port */
    int code;            /* code mode */
    int wrong;           /* wrong_host_status */
    const char *ex_path; /* one exemption path (NULL = defaults) */
    int ex_prefix;       /* its prefix flag */
    int ex_action;       /* its action */
    int ok;              /* expected: 1 = accepted */
    const char *why;     /* start of the expected message when refused */
};

/* clang-format off */
static const struct pc_case pc_cases[] = {
    {"canonical", EX, NULL, NULL, 443, 0, 421, NULL, 0, 0, 1, NULL},
    {"canonical dot alias", "Example.com.", "www.example.com", NULL, 8443, 2, 400, NULL, 0, 0, 1,
     NULL},
    {"canonical v6", "[2001:db8::1]", "2001:db8::2", NULL, 1, 1, 0, NULL, 0, 0, 1, NULL},
    {"canonical ipv4", "192.0.2.1", NULL, NULL, 65535, 0, 421, NULL, 0, 0, 1, NULL},
    {"canonical punycode", "xn--bcher-kva.example", NULL, NULL, 443, 0, 421, NULL, 0, 0, 1, NULL},
    {"canonical with port", "example.com:8443", NULL, NULL, 443, 0, 421, NULL, 0, 0, 0,
     "canonical_host"},
    {"canonical utf8", "b\xc3\xbc" "cher.example", NULL, NULL, 443, 0, 421, NULL, 0, 0, 0,
     "canonical_host"},
    {"canonical wildcard", "*.example.com", NULL, NULL, 443, 0, 421, NULL, 0, 0, 0,
     "canonical_host"},
    {"canonical scheme", "https://example.com", NULL, NULL, 443, 0, 421, NULL, 0, 0, 0,
     "canonical_host"},
    {"canonical empty label", "a..example.com", NULL, NULL, 443, 0, 421, NULL, 0, 0, 0,
     "canonical_host"},
    {"bad alias", EX, "evil/x", NULL, 443, 0, 421, NULL, 0, 0, 0, "aliases"},
    {"alias without canonical", "", EX, "example.org", 443, 0, 421, NULL, 0, 0, 0, "aliases"},
    {"cert only", "", NULL, "*.example.org", 443, 0, 421, NULL, 0, 0, 1, NULL},
    {"cert unusable", NULL, NULL, "*", 443, 0, 421, NULL, 0, 0, 0, "canonical_host"},
    {"no names", NULL, NULL, NULL, 443, 0, 421, NULL, 0, 0, 0, "canonical_host"},
    {"port too big", EX, NULL, NULL, 65536, 0, 421, NULL, 0, 0, 0, "https_port"},
    {"bad code", EX, NULL, NULL, 443, 7, 421, NULL, 0, 0, 0, "code"},
    {"bad wrong status", EX, NULL, NULL, 443, 0, 403, NULL, 0, 0, 0, "wrong_host_status"},
    {"exempt ok", EX, NULL, NULL, 443, 0, 421, "/ready", 0, 1, 1, NULL},
    {"exempt root exact", EX, NULL, NULL, 443, 0, 421, "/", 0, 1, 1, NULL},
    {"exempt root prefix", EX, NULL, NULL, 443, 0, 421, "/", 1, 0, 0, "exemptions"},
    {"exempt relative", EX, NULL, NULL, 443, 0, 421, "ready", 0, 1, 0, "exemptions"},
    {"exempt query", EX, NULL, NULL, 443, 0, 421, "/ready?x", 0, 1, 0, "exemptions"},
    {"exempt dots", EX, NULL, NULL, 443, 0, 421, "/a/../ready", 0, 1, 0, "exemptions"},
    {"exempt double slash", EX, NULL, NULL, 443, 0, 421, "//ready", 0, 1, 0, "exemptions"},
    {"exempt space", EX, NULL, NULL, 443, 0, 421, "/re ady", 0, 1, 0, "exemptions"},
    {"exempt unencoded", EX, NULL, NULL, 443, 0, 421, "/a<b", 0, 1, 0, "exemptions"},
    {"exempt bad action", EX, NULL, NULL, 443, 0, 421, "/ready", 0, 9, 0, "exemptions"},
};
/* clang-format on */

START_TEST(test_policy_check_table)
{
    const struct pc_case *c = &pc_cases[_i];
    struct moat_redirect_policy pol;
    struct moat_redirect_exemption ex;
    const char *aliases[1];
    const char *certs[1];
    const char *why = "unset";
    int rc;

    moat_redirect_policy_init(&pol);
    pol.canonical_host = c->canon;
    aliases[0] = c->alias;
    certs[0] = c->cert;
    pol.aliases = aliases;
    pol.n_aliases = c->alias != NULL ? 1 : 0;
    pol.cert_names = certs;
    pol.n_cert_names = c->cert != NULL ? 1 : 0;
    pol.https_port = c->port;
    pol.code_mode = (enum moat_redirect_code_mode)c->code;
    pol.wrong_host_status = c->wrong;
    if (c->ex_path != NULL) {
        ex.path = c->ex_path;
        ex.prefix = c->ex_prefix;
        ex.action = (enum moat_redirect_exempt_action)c->ex_action;
        pol.exemptions = &ex;
        pol.n_exemptions = 1;
    }
    rc = moat_redirect_policy_check(&pol, &why);
    if (c->ok) {
        ck_assert_msg(rc == 0, "%s: refused: %s", c->label, why != NULL ? why : "(null)");
        ck_assert_ptr_null(why);
    } else {
        ck_assert_msg(rc == -1, "%s: accepted", c->label);
        ck_assert_msg(why != NULL && strncmp(why, c->why, strlen(c->why)) == 0,
                      "%s: why %s, want %s...", c->label, why != NULL ? why : "(null)", c->why);
    }
}
END_TEST

START_TEST(test_policy_check_defaults)
{
    struct moat_redirect_policy pol;

    moat_redirect_policy_init(&pol);
    pol.canonical_host = EX;
    ck_assert_int_eq(moat_redirect_policy_check(&pol, NULL), 0);
    ck_assert_int_eq(moat_redirect_policy_check(NULL, NULL), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("redirect");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_redirect_table, 0, sizeof(cases) / sizeof(cases[0]));
    tcase_add_loop_test(tc, test_policy_check_table, 0, sizeof(pc_cases) / sizeof(pc_cases[0]));
    tcase_add_test(tc, test_location_cap);
    tcase_add_test(tc, test_long_path);
    tcase_add_test(tc, test_host_counted);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_policy_check_defaults);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
