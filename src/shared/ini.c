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

/* Tabs are whitespace; every other control character is refused. Returns
 * the first one, or 0. */
static unsigned char first_control_char(const char *s) {
        for (; *s; s++)
                if (((unsigned char) *s < 0x20 && *s != '\t') || *s == 0x7f)
                        return (unsigned char) *s;
        return 0;
}

int ini_parse(FILE *f, ini_handler_t handler, void *userdata, unsigned *ret_line, char **ret_error) {
        _cleanup_free_ char *buf = NULL;
        size_t allocated = 0;
        char section[128] = "";
        unsigned line = 0;
        char *error = NULL;
        ssize_t k;
        int r = 0;

        /* getline() says how many bytes it read, NUL bytes included: fgets()
         * would end the line at the first one and hide what follows. */
        while ((errno = 0, k = getline(&buf, &allocated, f)) >= 0) {
                size_t len = (size_t) k;
                line++;

                if (memchr(buf, 0, len)) {
                        r = -EINVAL;
                        error = strdup("NUL byte in line: this is not a text file");
                        break;
                }
                if (len > 0 && buf[len - 1] == '\n')
                        buf[--len] = 0;
                if (len > INI_LINE_MAX) {
                        r = -E2BIG;
                        (void) asprintf(&error, "line too long (more than %d bytes)", INI_LINE_MAX);
                        break;
                }
                /* Allow CRLF files, but no other control characters anywhere. */
                if (len > 0 && buf[len - 1] == '\r')
                        buf[--len] = 0;

                char *s = strip(buf);
                if (*s == 0 || *s == '#' || *s == ';')
                        continue;
                unsigned char c = first_control_char(s);
                if (c != 0) {
                        r = -EINVAL;
                        (void) asprintf(&error, "control character 0x%02x in line", c);
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

        if (r == 0 && errno == ENOMEM)
                r = -ENOMEM;
        else if (r == 0 && ferror(f)) {
                r = -EIO;
                error = strdup("read error");
        }
        if (r < 0) {
                if (ret_line)
                        *ret_line = line;
                if (!error && r != -ENOMEM)
                        error = strdup("invalid line");
                if (ret_error)
                        *ret_error = error;
                else
                        free(error);
        }
        return r;
}
