/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "format-util.h"

const char *format_bytes(char buf[static FORMAT_BYTES_MAX], uint64_t bytes) {
        static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
        if (bytes < 1024) {
                snprintf(buf, FORMAT_BYTES_MAX, "%" PRIu64 " B", bytes);
                return buf;
        }
        double v = (double) bytes / 1024;
        size_t i = 0;
        while (v >= 1024 && i + 1 < ELEMENTSOF(units)) {
                v /= 1024;
                i++;
        }
        snprintf(buf, FORMAT_BYTES_MAX, "%.1f %s", v, units[i]);
        return buf;
}

const char *format_duration(char buf[static FORMAT_DURATION_MAX], uint64_t usec) {
        uint64_t s = usec / USEC_PER_SEC;
        if (s < 10)
                snprintf(buf, FORMAT_DURATION_MAX, "%.1fs", (double) usec / USEC_PER_SEC);
        else if (s < 60)
                snprintf(buf, FORMAT_DURATION_MAX, "%" PRIu64 "s", s);
        else if (s < 3600)
                snprintf(buf, FORMAT_DURATION_MAX, "%" PRIu64 "min %" PRIu64 "s", s / 60, s % 60);
        else if (s < 86400)
                snprintf(buf, FORMAT_DURATION_MAX, "%" PRIu64 "h %" PRIu64 "min", s / 3600, s % 3600 / 60);
        else
                snprintf(buf, FORMAT_DURATION_MAX, "%" PRIu64 "d %" PRIu64 "h", s / 86400, s % 86400 / 3600);
        return buf;
}

const char *format_timestamp(char buf[static FORMAT_TIMESTAMP_MAX], uint64_t usec) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        if (!localtime_r(&t, &tm) || strftime(buf, FORMAT_TIMESTAMP_MAX, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, FORMAT_TIMESTAMP_MAX, "@%" PRIu64, usec / USEC_PER_SEC);
        return buf;
}

static uint64_t now_usec(clockid_t clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

uint64_t now_realtime_usec(void) {
        return now_usec(CLOCK_REALTIME);
}

uint64_t now_monotonic_usec(void) {
        return now_usec(CLOCK_MONOTONIC);
}

int errorf(char **ret_error, int r, const char *format, ...) {
        va_list ap;

        if (!ret_error || *ret_error)
                return r;
        errno = r < 0 ? -r : r;
        va_start(ap, format);
        if (vasprintf(ret_error, format, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return *ret_error ? r : -ENOMEM;
}

char *redact_urls(const char *text) {
        _cleanup_free_ char *out = NULL;
        size_t size = 0;
        _cleanup_fclose_ FILE *f = open_memstream(&out, &size);
        if (!f)
                return NULL;

        for (const char *p = text; *p;) {
                const char *sep = strstr(p, "://");
                if (!sep) {
                        fputs(p, f);
                        break;
                }
                const char *host = sep + 3;
                /* The authority ends at the path, query or fragment, or where the URL ends. */
                size_t authority = strcspn(host, "/?# \t\"'");
                size_t rest = authority + strcspn(host + authority, " \t\"'");
                /* Punctuation after a URL in a sentence is not part of it. */
                while (rest > 0 && strchr(".,:;!?)", host[rest - 1]))
                        rest--;
                authority = MIN(authority, rest);
                const char *at = memrchr(host, '@', authority);
                const char *hostname = at ? at + 1 : host;
                fwrite(p, 1, (size_t) (host - p), f);
                fwrite(hostname, 1, (size_t) (host + authority - hostname), f);
                if (rest > authority || at)
                        fputs("/…", f);
                p = host + rest;
        }
        if (fflush(f) != 0 || ferror(f))
                return NULL;
        fclose(TAKE_PTR(f));
        return TAKE_PTR(out);
}
