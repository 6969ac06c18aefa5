/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "log.h"

static LogTarget log_target = LOG_TARGET_STDERR;
static int log_max_level = LOG_INFO;

void log_set_max_level(int level) {
        log_max_level = level;
}

static char log_context[512];

/* $JOURNAL_STREAM holds "device:inode" of the stream systemd connected to
 * stdout/stderr; if fd 2 is that very stream, logging natively to the journal
 * keeps the structured fields that a plain stderr line would lose. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == dev && st.st_ino == ino;
}

void log_setup(LogTarget target) {
        if (target == LOG_TARGET_AUTO)
                target = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
        log_target = target;

        const char *e = getenv("ALEXANDRIA_LOG_LEVEL");
        if (e && streq(e, "debug"))
                log_max_level = LOG_DEBUG;
}

bool log_on_journal(void) {
        return log_target == LOG_TARGET_JOURNAL;
}

void log_set_context_field(const char *field_assignment) {
        snprintf(log_context, sizeof log_context, "%s", strempty(field_assignment));
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) {
        int saved_errno = errno;
        char msg[2048];
        va_list ap;

        error = error < 0 ? -error : error;
        if (level > log_max_level)
                return -error;

        errno = error; /* for %m */
        va_start(ap, format);
        vsnprintf(msg, sizeof msg, format, ap);
        va_end(ap);

        if (log_target == LOG_TARGET_JOURNAL) {
                char prio[32], code_file[256], code_line[32], code_func[128], err[32];
                struct iovec iov[8];
                size_t n = 0;
                _cleanup_free_ char *message = NULL;

                if (asprintf(&message, "MESSAGE=%s", msg) >= 0) {
#define IOV(s) iov[n++] = (struct iovec) { .iov_base = (char *) (s), .iov_len = strlen(s) }
                        snprintf(prio, sizeof prio, "PRIORITY=%i", level);
                        snprintf(code_file, sizeof code_file, "CODE_FILE=%s", file);
                        snprintf(code_line, sizeof code_line, "CODE_LINE=%i", line);
                        snprintf(code_func, sizeof code_func, "CODE_FUNC=%s", func);
                        IOV(message);
                        IOV(prio);
                        IOV("SYSLOG_IDENTIFIER=alexandria");
                        IOV(code_file);
                        IOV(code_line);
                        IOV(code_func);
                        if (error > 0) {
                                snprintf(err, sizeof err, "ERRNO=%i", error);
                                IOV(err);
                        }
                        if (log_context[0])
                                IOV(log_context);
#undef IOV
                        if (sd_journal_sendv(iov, (int) n) >= 0)
                                goto done;
                }
        }

        fprintf(stderr, "%s\n", msg);
done:
        errno = saved_errno;
        return -error;
}
