/* SPDX-License-Identifier: MIT */
#include <ctype.h>

#include "ini.h"
#include "macro.h"

static char *strip(char *s) {
        while (isspace((unsigned char) *s))
                s++;
        size_t n = strlen(s);
        while (n > 0 && isspace((unsigned char) s[n - 1]))
                s[--n] = 0;
        return s;
}

/* Tabs are whitespace; every other control character is refused. */
static bool has_control_chars(const char *s) {
        for (; *s; s++)
                if (((unsigned char) *s < 0x20 && *s != '\t') || *s == 0x7f)
                        return true;
        return false;
}

int ini_parse(FILE *f, ini_handler_t handler, void *userdata, unsigned *ret_line, char **ret_error) {
        char buf[INI_LINE_MAX + 2];
        char section[128] = "";
        unsigned line = 0;
        char *error = NULL;
        int r = 0;

        while (fgets(buf, sizeof buf, f)) {
                size_t len = strlen(buf);
                line++;

                if (len > 0 && buf[len - 1] == '\n')
                        buf[--len] = 0;
                else if (!feof(f)) {
                        r = -E2BIG;
                        error = strdup("line too long");
                        break;
                }
                if (memchr(buf, 0, len) != NULL || strlen(buf) != len) {
                        r = -EINVAL;
                        error = strdup("NUL byte in line");
                        break;
                }
                /* Allow CRLF files, but no other control characters anywhere. */
                if (len > 0 && buf[len - 1] == '\r')
                        buf[--len] = 0;

                char *s = strip(buf);
                if (*s == 0 || *s == '#' || *s == ';')
                        continue;
                if (has_control_chars(s)) {
                        r = -EINVAL;
                        error = strdup("control character in line");
                        break;
                }
                if (s[strlen(s) - 1] == '\\') {
                        r = -EINVAL;
                        error = strdup("line ends in '\\': line continuations are not supported");
                        break;
                }

                if (*s == '[') {
                        char *end = strchr(s, ']');
                        if (!end || end[1] != 0 || end == s + 1) {
                                r = -EINVAL;
                                (void) asprintf(&error, "malformed section header '%s'", s);
                                break;
                        }
                        *end = 0;
                        if ((size_t) (end - s) >= sizeof section) {
                                r = -EINVAL;
                                error = strdup("section name too long");
                                break;
                        }
                        strcpy(section, s + 1);
                        /* Let the handler refuse an unknown section where it starts. */
                        r = handler(section, NULL, NULL, line, userdata, &error);
                        if (r < 0)
                                break;
                        continue;
                }

                char *eq = strchr(s, '=');
                if (!eq) {
                        r = -EINVAL;
                        (void) asprintf(&error, "expected KEY=VALUE or [Section], got '%s'", s);
                        break;
                }
                *eq = 0;
                char *key = strip(s), *value = strip(eq + 1);
                if (*key == 0) {
                        r = -EINVAL;
                        error = strdup("empty key");
                        break;
                }
                if (section[0] == 0) {
                        r = -EINVAL;
                        (void) asprintf(&error, "key '%s' outside of any section", key);
                        break;
                }
                r = handler(section, key, value, line, userdata, &error);
                if (r < 0)
                        break;
        }

        if (r == 0 && ferror(f)) {
                r = -EIO;
                error = strdup("read error");
        }
        if (r < 0) {
                if (ret_line)
                        *ret_line = line;
                if (ret_error)
                        *ret_error = error ?: strdup("invalid line");
                else
                        free(error);
                if (ret_error && !*ret_error)
                        return -ENOMEM;
        }
        return r;
}
