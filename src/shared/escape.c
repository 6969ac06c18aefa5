/* SPDX-License-Identifier: MIT */
#include <ctype.h>

#include "escape.h"

bool utf8_is_valid(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                size_t n = utf8_sequence(p);
                if (n == 0)
                        return false;
                p += n;
        }
        return true;
}

void put_text(FILE *f, const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                size_t n = utf8_sequence(p);
                /* C0 and C1 controls, DEL, and bytes that are not UTF-8: a
                 * terminal must not act on them. */
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

char *text_escape(const char *s) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        put_text(f, s);
        bool failed = fflush(f) != 0 || ferror(f);
        fclose(f);
        if (failed) {
                free(buf);
                return NULL;
        }
        return buf;
}

const char *unit_value_problem(const char *v, bool quoted) {
        for (const char *p = v; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return "it contains a control character, which would end the line and start a new directive";
        /* systemd skips lines that are not UTF-8. */
        if (!utf8_is_valid(v))
                return "it is not valid UTF-8";
        if (quoted)
                return NULL;
        size_t n = strlen(v);
        if (n > 0 && (isspace((unsigned char) v[0]) || isspace((unsigned char) v[n - 1])))
                return "it starts or ends with a space, which systemd would drop";
        if (n > 0 && v[n - 1] == '\\')
                return "it ends in a backslash, which would continue the line";
        return NULL;
}

char *unit_escape_specifiers(const char *v) {
        size_t n = 0;
        for (const char *p = v; *p; p++)
                n += *p == '%' ? 2 : 1;
        char *out = malloc(n + 1), *o = out;
        if (!out)
                return NULL;
        for (const char *p = v; *p; p++) {
                if (*p == '%')
                        *o++ = '%';
                *o++ = *p;
        }
        *o = 0;
        return out;
}

char *unit_escape_quoted(const char *v) {
        size_t n = 2;
        for (const char *p = v; *p; p++)
                n += strchr("\"\\%", *p) ? 2 : 1;
        char *out = malloc(n + 1), *o = out;
        if (!out)
                return NULL;
        *o++ = '"';
        for (const char *p = v; *p; p++) {
                if (*p == '"' || *p == '\\')
                        *o++ = '\\';
                else if (*p == '%')
                        *o++ = '%';
                *o++ = *p;
        }
        *o++ = '"';
        *o = 0;
        return out;
}

char *unit_escape_command(const char *v) {
        size_t n = 0;
        for (const char *p = v; *p; p++)
                n += *p == '%' || *p == '$' ? 2 : 1;
        char *out = malloc(n + 1), *o = out;
        if (!out)
                return NULL;
        for (const char *p = v; *p; p++) {
                if (*p == '%' || *p == '$')
                        *o++ = *p;
                *o++ = *p;
        }
        *o = 0;
        return out;
}
