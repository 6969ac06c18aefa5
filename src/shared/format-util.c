/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
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

size_t utf8_sequence_length(const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        unsigned char c = p[0];

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                return (p[1] & 0xc0) == 0x80 ? 2 : 0;
        if (c >= 0xe0 && c <= 0xef) {
                if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
                        return 0;
                if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f))
                        return 0;
                return 3;
        }
        if (c >= 0xf0 && c <= 0xf4) {
                if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
                        return 0;
                if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
                        return 0;
                return 4;
        }
        return 0;
}

void fputs_escaped(const char *s, FILE *f) {
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                size_t n = utf8_sequence_length((const char *) p);
                if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f))) {
                        fprintf(f, "\\x%02x", *p);
                        p++;
                } else if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
                        fprintf(f, "\\u%04x", p[1]);
                        p += 2;
                } else {
                        fwrite(p, 1, n, f);
                        p += n;
                }
        }
}

char *strdup_escaped(const char *s) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        fputs_escaped(s, f);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}
