/* SPDX-License-Identifier: MIT */
#include <curl/curl.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "format-util.h"
#include "notify.h"
#include "spawn-util.h"

extern char **environ;

static const char *const notify_event_table[_NOTIFY_EVENT_MAX] = {
        [NOTIFY_STARTED] = "started",
        [NOTIFY_SUCCEEDED] = "succeeded",
        [NOTIFY_WARNINGS] = "warnings",
        [NOTIFY_FAILED] = "failed",
        [NOTIFY_OVERDUE] = "overdue",
        [NOTIFY_RECOVERED] = "recovered",
        [NOTIFY_UNEXPECTED] = "unexpected",
};

DEFINE_STRING_TABLE_LOOKUP(notify_event, NotifyEvent);

/* Collects failures as "channel: what; channel: what". */
static void add_error(char **errors, const char *format, ...) _printf_(2, 3);
static void add_error(char **errors, const char *format, ...) {
        _cleanup_free_ char *msg = NULL, *joined = NULL;
        va_list ap;
        va_start(ap, format);
        int k = vasprintf(&msg, format, ap);
        va_end(ap);
        if (k < 0)
                return;
        if (asprintf(&joined, "%s%s%s", strempty(*errors), *errors ? "; " : "", msg) < 0)
                return;
        free(*errors);
        *errors = TAKE_PTR(joined);
}

static int ping(const char *url, char **errors) {
        char curl_error[CURL_ERROR_SIZE] = "";
        long status = 0;
        /* The URL's path is the check's token: messages (status, the journal) never show it. */
        _cleanup_free_ char *shown = redact_urls(url);
        if (!shown)
                return -ENOMEM;
        CURL *c = curl_easy_init();
        if (!c) {
                add_error(errors, "ping %s: cannot initialise libcurl", shown);
                return -ENOMEM;
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_error);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "alexandria/" PACKAGE_VERSION);
        curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
        /* the answer body is of no interest */
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, (size_t (*)(char *, size_t, size_t, void *)) NULL);
        FILE *devnull = fopen("/dev/null", "we");
        if (devnull)
                curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);

        /* Two tries: a dead man's switch that misses a ping raises a false alarm. */
        CURLcode res = CURLE_OK;
        for (int attempt = 0; attempt < 2; attempt++) {
                res = curl_easy_perform(c);
                if (res == CURLE_OK)
                        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
                if (res == CURLE_OK && status >= 200 && status < 300)
                        break;
        }
        curl_easy_cleanup(c);
        if (devnull)
                fclose(devnull);
        if (res != CURLE_OK) {
                _cleanup_free_ char *why = redact_urls(curl_error[0] ? curl_error : curl_easy_strerror(res));
                add_error(errors, "ping %s: %s", shown, strempty(why));
                return -EIO;
        }
        if (status < 200 || status >= 300) {
                add_error(errors, "ping %s: HTTP status %ld", shown, status);
                return -EIO;
        }
        return 0;
}

/* sendmail(8) of dma or exim returns once the mail is queued and leaves a
 * child behind that delivers it; so does `mail` in a NotifyCommand=. Run
 * from the service (ExecStopPost=) or the watchdog, that child would be
 * killed with the unit's control group as soon as we return, and the mail
 * would wait in the queue for a cron job that may not exist. We adopt such
 * children (PR_SET_CHILD_SUBREAPER, set before spawning) and give them a
 * bounded time to finish. */
#define NOTIFY_DELIVERY_TIMEOUT_USEC (15 * USEC_PER_SEC)

static void reap_adopted(uint64_t timeout) {
        uint64_t deadline = now_monotonic_usec() + timeout;
        for (;;) {
                pid_t p = waitpid(-1, NULL, WNOHANG);
                if (p < 0 && errno == EINTR)
                        continue;
                if (p < 0)
                        return;         /* ECHILD: nothing left */
                if (p > 0)
                        continue;
                if (now_monotonic_usec() >= deadline)
                        return;         /* still running: it keeps the mail queued */
                (void) usleep(20 * 1000);
        }
}

/* Runs ARGV with INPUT on stdin and EXTRA_ENV added, waits for it and (bounded)
 * for what it left behind; returns its exit status (128+signal), or a negative
 * errno if it could not run. */
static int run_with_input(char *const argv[], const char *input, char **extra_env) {
        size_t n_env = 0, n_extra = strv_length(extra_env);
        while (environ[n_env])
                n_env++;
        _cleanup_free_ char **env = calloc(n_env + n_extra + 1, sizeof(char *));
        if (!env)
                return -ENOMEM;
        memcpy(env, extra_env, n_extra * sizeof(char *));
        memcpy(env + n_extra, environ, n_env * sizeof(char *));

        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return negative_errno();
        (void) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pipefd[0], STDIN_FILENO);
        pid_t pid;
        int r = -posix_spawn(&pid, argv[0], &fa, NULL, argv, env);
        posix_spawn_file_actions_destroy(&fa);
        safe_close(pipefd[0]);
        if (r < 0) {
                safe_close(pipefd[1]);
                return r;
        }
        size_t len = strlen(strempty(input));
        for (size_t done = 0; done < len;) {
                ssize_t k = write(pipefd[1], input + done, len - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        break;          /* the child will say what went wrong */
                done += (size_t) k;
        }
        safe_close(pipefd[1]);
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        reap_adopted(NOTIFY_DELIVERY_TIMEOUT_USEC);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int send_mail(const Schedule *s, const char *event, const NotifyMessage *m, char **errors) {
        _cleanup_free_ char *body = NULL;
        size_t size = 0;
        _cleanup_fclose_ FILE *f = open_memstream(&body, &size);
        if (!f)
                return -ENOMEM;
        fputs("To: ", f);
        STRV_FOREACH(a, s->mail)
                fprintf(f, "%s%s", *a, a[1] ? ", " : "\n");
        fprintf(f, "Subject: [alexandria] backup %s: %s\n"
                "Auto-Submitted: auto-generated\n"
                "Content-Type: text/plain; charset=utf-8\n"
                "\n"
                "%s\n\n"
                "Schedule: %s\n"
                "Event:    %s\n",
                s->name, event, strempty(m->message), s->name, event);
        if (m->archive)
                fprintf(f, "Archive:  %s\n", m->archive);
        if (m->unit)
                fprintf(f, "Unit:     %s\n", m->unit);
        if (m->details)
                fprintf(f, "\n%s", m->details);
        fprintf(f, "\nHistory: alexandria-ctl logs %s\n", s->name);
        if (fflush(f) != 0)
                return -ENOMEM;

        /* -t: recipients from the To: header; -oi: a lone "." is no end of input */
        char *argv[] = { "/usr/sbin/sendmail", "-t", "-oi", NULL };
        int r = run_with_input(argv, body, NULL);
        if (r != 0) {
                if (r < 0)
                        add_error(errors, "mail via /usr/sbin/sendmail: %s", strerror(-r));
                else
                        add_error(errors, "mail via /usr/sbin/sendmail: exit status %d", r);
                return -EIO;
        }
        return 0;
}

static int run_command(const Schedule *s, const char *event, const NotifyMessage *m, char **errors) {
        _cleanup_free_ char *e_schedule = NULL, *e_event = NULL, *e_message = NULL, *e_archive = NULL, *e_unit = NULL,
                            *e_unexpected = NULL;
        if (asprintf(&e_schedule, "ALEXANDRIA_SCHEDULE=%s", s->name) < 0 ||
            asprintf(&e_event, "ALEXANDRIA_EVENT=%s", event) < 0 ||
            asprintf(&e_message, "ALEXANDRIA_MESSAGE=%s", strempty(m->message)) < 0 ||
            asprintf(&e_archive, "ALEXANDRIA_ARCHIVE=%s", strempty(m->archive)) < 0 ||
            asprintf(&e_unit, "ALEXANDRIA_UNIT=%s", strempty(m->unit)) < 0 ||
            (m->unexpected_file && asprintf(&e_unexpected, "ALEXANDRIA_UNEXPECTED_FILE=%s", m->unexpected_file) < 0))
                return -ENOMEM;
        char *env[] = { e_schedule, e_event, e_message, e_archive, e_unit, e_unexpected, NULL };
        char *argv[] = { "/bin/sh", "-c", s->notify_command, NULL };
        int r = run_with_input(argv, "", env);
        if (r != 0) {
                if (r < 0)
                        add_error(errors, "NotifyCommand: %s", strerror(-r));
                else {
                        _cleanup_free_ char *shown = redact_urls(s->notify_command);
                        add_error(errors, "NotifyCommand '%s': exit status %d", strempty(shown), r);
                }
                return -EIO;
        }
        return 0;
}

int notify_send(const Schedule *s, NotifyEvent e, const NotifyMessage *m, char **ret_error) {
        const char *event = notify_event_to_string(e);
        _cleanup_free_ char *errors = NULL;
        int ret = 0;

        if (s->ping_url && e != NOTIFY_UNEXPECTED) {
                _cleanup_free_ char *url = NULL;
                const char *suffix = e == NOTIFY_STARTED ? "/start" : e == NOTIFY_FAILED || e == NOTIFY_OVERDUE ? "/fail" : "";
                if (asprintf(&url, "%s%s", s->ping_url, suffix) < 0)
                        return -ENOMEM;
                if (ping(url, &errors) < 0)
                        ret = -EIO;
        }

        bool tell = e == NOTIFY_FAILED || e == NOTIFY_OVERDUE || e == NOTIFY_RECOVERED || e == NOTIFY_UNEXPECTED ||
                    (e == NOTIFY_WARNINGS && s->notify_on_warnings);
        if (tell && s->notify_command && run_command(s, event, m, &errors) < 0)
                ret = -EIO;
        if (tell && s->mail && send_mail(s, event, m, &errors) < 0)
                ret = -EIO;

        if (ret < 0 && ret_error)
                *ret_error = TAKE_PTR(errors);
        return ret;
}
