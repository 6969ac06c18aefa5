/* SPDX-License-Identifier: MIT */
#include "escape.h"
#include "json-util.h"

void put_text(FILE *f, const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                size_t n = utf8_sequence(p);
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
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        put_text(f, s);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}
