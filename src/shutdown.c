/* shutdown.c - the emergency shutdown at run time: one attempt at a time
 * through the rate limiter and the token check, lockdown, signalling the
 * target through a pidfd, and the grace-period SIGKILL from the main loop. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "moat/log.h"
#include "moat/ratelimit.h"
#include "moat/shutdown.h"
#include "moat/token.h"
#include "moat/upstream.h"

#define SD_AFTER_KILL_MS 2000 /* how long to wait for the target after SIGKILL */
#define SD_WHY 320            /* room for a reason */

/* Where signalling stands. */
enum sd_state {
    SD_IDLE = 0,  /* nothing signalled yet (or the last try failed: try again) */
    SD_SIGNALLED, /* the first signal went out; SIGKILL at deadline_ms */
    SD_KILLED,    /* SIGKILL went out; given up at deadline_ms */
    SD_DONE,      /* the target is gone, or there was none */
    SD_FAILED,    /* a correct token came but nothing could be signalled */
};

struct moat_shutdown {
    const struct moat_config *cfg; /* borrowed */
    struct moat_metrics *metrics;  /* borrowed, may be NULL */
    struct moat_token *token;      /* owned; NULL = disabled */
    struct moat_ratelimit *rl;     /* owned; NULL when disabled */
    struct moat_sd_target target;  /* shutdown.target */
    enum moat_sd_mode mode;        /* shutdown.mode */
    int signo;                     /* shutdown.signal */
    void (*engage)(void *arg);     /* lockdown of the listeners, or NULL */
    void *engage_arg;              /* its argument */
    pid_t child_pid;               /* the child target, 0 when none */
    int child_pidfd;               /* its pidfd (borrowed), -1 when none */
    atomic_int engaged;            /* a correct token was presented */
    pthread_mutex_t attempt_lock;  /* one attempt at a time from limiter check to its record, so
                                      parallel attempts cannot slip past a lockout */
    pthread_mutex_t lock;          /* guards everything below */
    enum sd_state state;           /* signalling progress */
    pid_t pid;                     /* the process signalled */
    int pidfd;                     /* its pidfd, -1 without one */
    int own_pidfd;                 /* pidfd is ours to close (not the child's) */
    uint64_t deadline_ms;          /* SD_SIGNALLED: SIGKILL; SD_KILLED: give up */
};

struct moat_shutdown *moat_shutdown_new(const struct moat_config *cfg, struct moat_token *token,
                                        struct moat_metrics *metrics, char *err, size_t errlen)
{
    struct moat_ratelimit_cfg rc;
    struct moat_shutdown *sd = calloc(1, sizeof(*sd));
    const char *why = NULL;

    if (sd == NULL) {
        moat_set_err(err, errlen, "out of memory");
        goto fail;
    }
    sd->cfg = cfg;
    sd->metrics = metrics;
    sd->child_pidfd = -1;
    sd->pidfd = -1;
    pthread_mutex_init(&sd->lock, NULL);
    pthread_mutex_init(&sd->attempt_lock, NULL);
    if (moat_sd_target_parse(cfg->shutdown.target, &sd->target, &why) != 0 ||
        moat_sd_mode_parse(cfg->shutdown.mode, &sd->mode) != 0 ||
        moat_sd_signal_parse(cfg->shutdown.signal, &sd->signo) != 0) {
        moat_set_err(err, errlen, "invalid [shutdown] settings");
        goto fail;
    }
    if (token != NULL) {
        moat_ratelimit_cfg_default(&rc);
        rc.max_failures = cfg->shutdown.max_failures;
        rc.global_max_failures = cfg->shutdown.global_max_failures;
        rc.window_ms = cfg->shutdown.window_ms;
        rc.cooldown_ms = cfg->shutdown.cooldown_ms;
        rc.max_cooldown_ms = cfg->shutdown.max_cooldown_ms;
        if (moat_ratelimit_new(&rc, &sd->rl, err, errlen) != 0)
            goto fail;
    }
    sd->token = token;
    return sd;
fail:
    moat_token_free(token);
    if (sd != NULL) {
        pthread_mutex_destroy(&sd->lock);
        pthread_mutex_destroy(&sd->attempt_lock);
        free(sd);
    }
    return NULL;
}

void moat_shutdown_set_engage(struct moat_shutdown *sd, void (*fn)(void *arg), void *arg)
{
    sd->engage = fn;
    sd->engage_arg = arg;
}

void moat_shutdown_set_child(struct moat_shutdown *sd, pid_t pid, int pidfd)
{
    sd->child_pid = pid;
    sd->child_pidfd = pidfd;
}

int moat_shutdown_enabled(const struct moat_shutdown *sd)
{
    return sd != NULL && sd->token != NULL;
}

int moat_shutdown_engaged(struct moat_shutdown *sd)
{
    return sd != NULL && atomic_load(&sd->engaged);
}

/* ------------------------------------------------------- signalling */

/* Closes the target's pidfd when it is ours (lock held). */
static void sd_release(struct moat_shutdown *sd)
{
    if (sd->own_pidfd && sd->pidfd >= 0)
        close(sd->pidfd);
    sd->pidfd = -1;
    sd->own_pidfd = 0;
}

/* Finds the target and opens it as a pidfd (lock held). Returns 0 with sd->pid
 * and sd->pidfd set (pid 0 for "none"), -1 with why, or 1 (nothing changed)
 * when a pidfile or process target is the process stopped already (0: none). */
static int sd_resolve(struct moat_shutdown *sd, pid_t stopped, char *why, size_t whylen)
{
    pid_t pid = 0;
    int rc = -1;

    switch (sd->target.kind) {
    case MOAT_SD_NONE:
        sd->pid = 0;
        rc = 0;
        goto out;
    case MOAT_SD_CHILD:
        if (sd->child_pid <= 0) {
            snprintf(why, whylen, "no child process (start the app after --)");
            goto out;
        }
        sd->pid = sd->child_pid;
        sd->pidfd = sd->child_pidfd;
        sd->own_pidfd = 0;
        rc = 0;
        goto out;
    case MOAT_SD_PIDFILE:
        if (moat_sd_pidfile_read(sd->target.arg, &pid, why, whylen) != 0)
            goto out;
        break;
    case MOAT_SD_PROCESS:
        if (moat_sd_process_find(sd->target.arg, &pid, why, whylen) != 0)
            goto out;
        break;
    }
    if (stopped > 0 && pid == stopped) {
        rc = 1;
        goto out;
    }
    sd->pid = pid;
    sd->pidfd = moat_sd_pidfd_open(pid);
    sd->own_pidfd = sd->pidfd >= 0;
    if (sd->pidfd < 0 && errno != ENOSYS) {
        snprintf(why, whylen, "process %ld: %s", (long)pid,
                 errno == ESRCH ? "not running" : strerror(errno));
        goto out;
    }
    if (sd->pidfd < 0)
        moat_log(MOAT_LOG_WARN, "pidfd_unavailable",
                 "this kernel has no pidfd_open: signalling pid %ld with kill()", (long)pid);
    if (sd->target.kind == MOAT_SD_PIDFILE &&
        moat_sd_pidfile_owner_check(sd->target.arg, sd->pidfd, pid, why, whylen) != 0) {
        sd_release(sd);
        goto out;
    }
    if (sd->target.kind == MOAT_SD_PROCESS && !moat_sd_process_is(sd->target.arg, pid)) {
        snprintf(why, whylen, "process %ld ended before it could be signalled", (long)pid);
        sd_release(sd);
        goto out;
    }
    rc = 0;
out:
    return rc;
}

/* Logs the end of the signalled process. */
static void sd_log_gone(const struct moat_shutdown *sd, const char *after)
{
    struct moat_logline l;

    moat_logline_begin(&l, MOAT_LOG_INFO, "emergency_shutdown_target_exited");
    moat_logline_int(&l, "pid", (long long)sd->pid);
    moat_logline_str(&l, "after", after);
    moat_logline_end(&l);
}

/* Signals the target sd_resolve found (lock held). Returns 0, or -1 with why. */
static int sd_signal(struct moat_shutdown *sd, uint64_t now, char *why, size_t whylen)
{
    int rc = -1;

    if (sd->pid == 0) {
        sd->state = SD_DONE;
        rc = 0;
        goto out;
    }
    if (moat_sd_send(sd->pidfd, sd->pid, sd->signo) != 0) {
        if (errno == EPERM)
            snprintf(why, whylen,
                     "cannot signal process %ld: %s (another user's process needs the same "
                     "uid or CAP_KILL)",
                     (long)sd->pid, strerror(errno));
        else
            snprintf(why, whylen, "cannot signal process %ld: %s", (long)sd->pid,
                     errno == ESRCH ? "it has exited" : strerror(errno));
        sd_release(sd);
        goto out;
    }
    if (sd->signo == SIGKILL) {
        sd->state = SD_KILLED;
        sd->deadline_ms = now + SD_AFTER_KILL_MS;
    } else {
        sd->state = SD_SIGNALLED;
        sd->deadline_ms = now + sd->cfg->shutdown.grace_ms;
    }
    rc = 0;
out:
    return rc;
}

/* Resolves and signals the target (lock held). Returns 0, or -1 with why. */
static int sd_fire(struct moat_shutdown *sd, uint64_t now, char *why, size_t whylen)
{
    int rc = -1;

    if (sd_resolve(sd, 0, why, whylen) == 0)
        rc = sd_signal(sd, now, why, whylen);
    return rc;
}

/* The target is gone and another correct attempt came (lock held): a pidfile
 * or process target may have been started again (a supervisor, a restarted
 * container) and is then stopped like the first; the process stopped already
 * (a stale pidfile) is never signalled again, and no target found means
 * nothing to do. Returns 0 with *again set when nothing was signalled, or as
 * sd_fire. */
static int sd_fire_again(struct moat_shutdown *sd, uint64_t now, int *again, char *why,
                         size_t whylen)
{
    pid_t stopped = sd->pid;
    int rc = 0;

    *again = 1;
    if (sd->target.kind != MOAT_SD_PIDFILE && sd->target.kind != MOAT_SD_PROCESS)
        goto out;
    if (sd_resolve(sd, stopped, why, whylen) != 0) {
        sd_release(sd);
        sd->pid = stopped;
        why[0] = '\0';
        goto out;
    }
    *again = 0;
    rc = sd_signal(sd, now, why, whylen);
out:
    return rc;
}

/* ------------------------------------------------------- attempts */

/* Writes the JSON of an accepted attempt (lock held). */
static void sd_body_accepted(const struct moat_shutdown *sd, int again, const char *error,
                             char *out, size_t cap)
{
    char target[2 * MOAT_CFG_PATH];
    char msg[2 * SD_WHY];
    int n;

    moat_json_escape(target, sizeof(target), sd->cfg->shutdown.target,
                     strlen(sd->cfg->shutdown.target));
    n = snprintf(out, cap, "{\"result\":\"accepted\",\"mode\":\"%s\",\"target\":\"%s\"",
                 sd->mode == MOAT_SD_EXIT ? "exit" : "lockdown", target);
    if (n < 0 || (size_t)n >= cap)
        goto end;
    if (error != NULL) {
        moat_json_escape(msg, sizeof(msg), error, strlen(error));
        n += snprintf(out + n, cap - (size_t)n, ",\"signalled\":false,\"error\":\"%s\"", msg);
    } else if (sd->pid == 0) {
        n += snprintf(out + n, cap - (size_t)n, ",\"signalled\":false,\"pid\":null");
    } else {
        n += snprintf(out + n, cap - (size_t)n,
                      ",\"signalled\":true,\"pid\":%ld,\"signal\":\"%s\",\"grace_seconds\":%.3f%s",
                      (long)sd->pid, moat_sd_signal_name(sd->signo),
                      (double)sd->cfg->shutdown.grace_ms / 1000.0, again ? ",\"repeat\":true" : "");
    }
end:
    if ((size_t)n + 3 <= cap)
        snprintf(out + n, cap - (size_t)n, "}\n");
    else if (cap > 0)
        snprintf(out, cap, "{\"result\":\"accepted\"}\n");
}

/* A correct token: lockdown, then the target. Fills ans. */
static void sd_accept(struct moat_shutdown *sd, struct moat_sd_answer *ans)
{
    struct moat_logline l;
    char why[SD_WHY];
    uint64_t now = moat_now_ms();
    int again = 0;
    int rc = 0;

    why[0] = '\0';
    pthread_mutex_lock(&sd->lock);
    if (!atomic_exchange(&sd->engaged, 1)) {
        if (sd->engage != NULL)
            sd->engage(sd->engage_arg);
        moat_log(MOAT_LOG_WARN, "lockdown",
                 "emergency shutdown: every proxied request now answers 503 (mode %s)",
                 sd->mode == MOAT_SD_EXIT ? "exit: moat exits once the app is stopped"
                                          : "lockdown: until moat restarts");
    }
    if (sd->state == SD_IDLE || sd->state == SD_FAILED) {
        rc = sd_fire(sd, now, why, sizeof(why));
        if (rc != 0)
            sd->state = SD_FAILED;
    } else if (sd->state == SD_DONE) {
        rc = sd_fire_again(sd, now, &again, why, sizeof(why));
        if (rc != 0)
            sd->state = SD_FAILED;
    } else {
        again = 1;
    }
    moat_logline_begin(&l, rc == 0 ? MOAT_LOG_WARN : MOAT_LOG_ERROR, "emergency_shutdown");
    moat_logline_str(&l, "target", sd->cfg->shutdown.target);
    moat_logline_str(&l, "mode", sd->mode == MOAT_SD_EXIT ? "exit" : "lockdown");
    if (rc != 0) {
        moat_logline_bool(&l, "signalled", 0);
        moat_logline_str(&l, "error", why);
    } else if (sd->pid == 0) {
        moat_logline_bool(&l, "signalled", 0);
    } else {
        moat_logline_bool(&l, "signalled", 1);
        moat_logline_int(&l, "pid", (long long)sd->pid);
        moat_logline_str(&l, "signal", moat_sd_signal_name(sd->signo));
        moat_logline_bool(&l, "pidfd", sd->pidfd >= 0);
        if (again)
            moat_logline_bool(&l, "repeat", 1);
    }
    moat_logline_end(&l);
    ans->status = rc == 0 ? 202 : 500;
    sd_body_accepted(sd, again, rc == 0 ? NULL : why, ans->body, sizeof(ans->body));
    pthread_mutex_unlock(&sd->lock);
}

/* Logs one attempt and counts it. */
static void sd_audit(struct moat_shutdown *sd, const struct moat_sd_request *rq,
                     enum moat_metrics_shutdown result, const char *reason, unsigned retry_after)
{
    static const char *const names[] = {"accepted", "denied", "rate_limited", "disabled"};
    struct moat_logline l;

    moat_metrics_shutdown_attempt(sd->metrics, result);
    moat_logline_begin(&l, result == MOAT_METRICS_SHUTDOWN_ACCEPTED ? MOAT_LOG_WARN : MOAT_LOG_INFO,
                       "emergency_shutdown_attempt");
    moat_logline_str(&l, "client", rq->client);
    moat_logline_str(&l, "listener", rq->listener);
    moat_logline_str(&l, "result", names[result]);
    if (reason != NULL)
        moat_logline_str(&l, "reason", reason);
    if (retry_after > 0)
        moat_logline_int(&l, "retry_after", retry_after);
    moat_logline_end(&l);
}

/* What an attempt's credentials decided. */
enum sd_verdict { SD_LOCKED, SD_DENIED, SD_ACCEPTED };

/* Asks the limiter, checks the Authorization field and records the outcome
 * with the limiter, all under attempt_lock. *reason: why it was denied. */
static enum sd_verdict sd_verify(struct moat_shutdown *sd, const struct moat_sd_request *rq,
                                 uint64_t now, unsigned *retry, const char **reason)
{
    enum sd_verdict v = SD_DENIED;
    const char *tok = NULL;
    size_t tok_len = 0;

    pthread_mutex_lock(&sd->attempt_lock);
    if (moat_ratelimit_check(sd->rl, rq->family, rq->addr, now, retry) == MOAT_RATELIMIT_LOCKED) {
        v = SD_LOCKED;
    } else if (rq->n_authorization == 0 || rq->authorization == NULL) {
        *reason = "missing_token";
    } else if (rq->n_authorization > 1) {
        *reason = "several_authorization_fields";
    } else if (moat_token_parse_bearer(rq->authorization, rq->authorization_len, &tok, &tok_len) !=
               0) {
        *reason = "not_a_bearer_token";
    } else if (moat_token_verify(sd->token, tok, tok_len)) {
        v = SD_ACCEPTED;
    } else {
        *reason = "wrong_token";
    }
    if (v == SD_DENIED)
        (void)moat_ratelimit_fail(sd->rl, rq->family, rq->addr, now, retry);
    if (v == SD_ACCEPTED)
        moat_ratelimit_success(sd->rl, rq->family, rq->addr, now);
    pthread_mutex_unlock(&sd->attempt_lock);
    return v;
}

void moat_shutdown_handle(struct moat_shutdown *sd, const struct moat_sd_request *rq,
                          struct moat_sd_answer *ans)
{
    const char *reason = NULL;
    unsigned retry = 0;
    uint64_t now = moat_now_ms();
    enum sd_verdict v;

    memset(ans, 0, sizeof(*ans));
    ans->type = "application/json";
    if (!moat_shutdown_enabled(sd)) {
        ans->status = 404;
        ans->type = "text/plain; charset=utf-8";
        snprintf(ans->body, sizeof(ans->body), "Not Found\n");
        if (sd != NULL)
            sd_audit(sd, rq, MOAT_METRICS_SHUTDOWN_DISABLED, "no_token_configured", 0);
        return;
    }
    v = sd_verify(sd, rq, now, &retry, &reason);
    if (v == SD_LOCKED) {
        ans->status = 429;
        ans->retry_after = retry;
        snprintf(ans->body, sizeof(ans->body), "{\"result\":\"rate_limited\",\"retry_after\":%u}\n",
                 retry);
        sd_audit(sd, rq, MOAT_METRICS_SHUTDOWN_RATE_LIMITED, "locked_out", retry);
    } else if (v == SD_DENIED) {
        ans->status = 401;
        ans->www_authenticate = 1;
        snprintf(ans->body, sizeof(ans->body),
                 "{\"result\":\"denied\",\"error\":\"a valid Bearer token is required\"}\n");
        sd_audit(sd, rq, MOAT_METRICS_SHUTDOWN_DENIED, reason, 0);
    } else {
        sd_audit(sd, rq, MOAT_METRICS_SHUTDOWN_ACCEPTED, NULL, 0);
        sd_accept(sd, ans);
    }
}

/* ------------------------------------------------------- main loop */

void moat_shutdown_tick(struct moat_shutdown *sd, uint64_t now_ms)
{
    if (sd == NULL || !atomic_load(&sd->engaged))
        return;
    pthread_mutex_lock(&sd->lock);
    if (sd->state == SD_SIGNALLED) {
        if (!moat_sd_alive(sd->pidfd, sd->pid)) {
            sd_log_gone(sd, moat_sd_signal_name(sd->signo));
            sd->state = SD_DONE;
        } else if (now_ms >= sd->deadline_ms) {
            if (moat_sd_send(sd->pidfd, sd->pid, SIGKILL) == 0)
                moat_log(MOAT_LOG_WARN, "emergency_shutdown_kill",
                         "process %ld still alive after shutdown.grace: sent SIGKILL",
                         (long)sd->pid);
            else
                moat_log(MOAT_LOG_ERROR, "emergency_shutdown_kill",
                         "process %ld still alive after shutdown.grace; SIGKILL failed: %s",
                         (long)sd->pid, strerror(errno));
            sd->state = SD_KILLED;
            sd->deadline_ms = now_ms + SD_AFTER_KILL_MS;
        }
    } else if (sd->state == SD_KILLED) {
        if (!moat_sd_alive(sd->pidfd, sd->pid)) {
            sd_log_gone(sd, "SIGKILL");
            sd->state = SD_DONE;
        } else if (now_ms >= sd->deadline_ms) {
            moat_log(MOAT_LOG_ERROR, "emergency_shutdown_survived",
                     "process %ld survived SIGKILL (PID 1 of its namespace?): giving up",
                     (long)sd->pid);
            sd->state = SD_DONE;
        }
    }
    if (sd->state == SD_DONE)
        sd_release(sd);
    pthread_mutex_unlock(&sd->lock);
}

int moat_shutdown_exit_due(struct moat_shutdown *sd)
{
    int due;

    if (sd == NULL || sd->mode != MOAT_SD_EXIT || !atomic_load(&sd->engaged))
        return 0;
    pthread_mutex_lock(&sd->lock);
    due = sd->state == SD_DONE || sd->state == SD_FAILED;
    pthread_mutex_unlock(&sd->lock);
    return due;
}

void moat_shutdown_free(struct moat_shutdown *sd)
{
    if (sd == NULL)
        return;
    sd_release(sd);
    moat_ratelimit_free(sd->rl);
    moat_token_free(sd->token);
    pthread_mutex_destroy(&sd->lock);
    pthread_mutex_destroy(&sd->attempt_lock);
    free(sd);
}
