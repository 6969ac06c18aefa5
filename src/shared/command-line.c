/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "command-line.h"
#include "path-util.h"

/* What systemd 252 gives services on a merged-/usr system. */
#define DEFAULT_SEARCH_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int split_error(char **ret_error, const char *format, ...) _printf_(2, 3);
static int split_error(char **ret_error, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        if (vasprintf(ret_error, format, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return *ret_error ? -EINVAL : -ENOMEM;
}

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char) tolower((unsigned char) c);
        return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* *P points at the character after a backslash; stores the byte it means
 * and advances *P past the escape. */
static int unescape(const char **p, char *ret, char **ret_error) {
        static const char simple[] = "a\ab\bf\fn\nr\rt\tv\v\\\\\"\"''s ;;";
        const char *s = *p;

        if (*s == 0)
                return split_error(ret_error, "ends with a backslash");
        for (size_t i = 0; simple[i]; i += 2)
                if (simple[i] == *s) {
                        *ret = simple[i + 1];
                        *p = s + 1;
                        return 0;
                }
        int v = 0;
        if (*s == 'x') {
                int a = hex_digit(s[1]), b = a >= 0 ? hex_digit(s[2]) : -1;
                if (a < 0 || b < 0)
                        return split_error(ret_error, "\\x needs two hexadecimal digits");
                v = a * 16 + b;
                *p = s + 3;
        } else if (*s >= '0' && *s <= '7') {
                for (int i = 0; i < 3; i++, s++) {
                        if (*s < '0' || *s > '7')
                                return split_error(ret_error, "an octal escape needs three digits (\\NNN)");
                        v = v * 8 + (*s - '0');
                }
                if (v > 0xff)
                        return split_error(ret_error, "octal escape out of range");
                *p = s;
        } else
                return split_error(ret_error, "unknown escape '\\%c'", *s);
        if (v == 0)
                return split_error(ret_error, "\\0 (a NUL byte) cannot be passed to a program");
        *ret = (char) v;
        return 0;
}

int command_line_split(const char *text, char ***ret, char **ret_error) {
        _cleanup_strv_free_ char **words = NULL;
        _cleanup_free_ char *word = NULL;
        const char *p = text;
        int r;

        for (;;) {
                while (*p == ' ' || *p == '\t')
                        p++;
                if (*p == 0)
                        break;

                size_t n = 0;
                char quote = 0;
                bool escaped_only = true;       /* ";" stands alone only when written bare */
                word = malloc(strlen(p) + 1);
                if (!word)
                        return -ENOMEM;
                for (;;) {
                        char c = *p;
                        if (c == 0) {
                                if (quote)
                                        return split_error(ret_error, "unterminated %s quote", quote == '"' ? "double" : "single");
                                break;
                        }
                        if (!quote && (c == ' ' || c == '\t'))
                                break;
                        p++;
                        if (quote && c == quote) {
                                quote = 0;
                                escaped_only = false;
                        } else if (!quote && (c == '"' || c == '\'')) {
                                quote = c;
                                escaped_only = false;
                        } else if (c == '\\') {
                                r = unescape(&p, &word[n], ret_error);
                                if (r < 0)
                                        return r;
                                n++;
                                escaped_only = false;
                        } else
                                word[n++] = c;
                }
                word[n] = 0;
                if (escaped_only && streq(word, ";"))
                        return split_error(ret_error, "a lone ';' would start a second command; "
                                           "give one command per line, or write \\; for a literal ';'");
                r = strv_push(&words, TAKE_PTR(word));
                if (r < 0)
                        return r;
        }
        if (!words)
                return split_error(ret_error, "no command given");
        if (isempty(words[0]))
                return split_error(ret_error, "the command name is empty");
        *ret = TAKE_PTR(words);
        return 0;
}

static int check_executable(const char *path) {
        struct stat st;
        if (stat(path, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0)
                return -EACCES;
        return 0;
}

int command_find(const char *name, char **ret_path) {
        int r;

        if (name[0] == '/') {
                r = check_executable(name);
                if (r < 0)
                        return r;
                char *c = strdup(name);
                if (!c)
                        return -ENOMEM;
                *ret_path = c;
                return 0;
        }
        if (strchr(name, '/') || isempty(name))
                return -EINVAL;

        const char *search = getenv("PATH");
        _cleanup_free_ char *copy = strdup(isempty(search) ? DEFAULT_SEARCH_PATH : search);
        if (!copy)
                return -ENOMEM;
        int found = -ENOENT;
        for (char *dir = copy, *colon; dir; dir = colon ? colon + 1 : NULL) {
                colon = strchr(dir, ':');
                if (colon)
                        *colon = 0;
                if (dir[0] != '/')
                        continue;       /* "" or "." in PATH: never for a root service */
                _cleanup_free_ char *candidate = path_join(dir, name);
                if (!candidate)
                        return -ENOMEM;
                r = check_executable(candidate);
                if (r == 0) {
                        *ret_path = TAKE_PTR(candidate);
                        return 0;
                }
                if (r == -EACCES)
                        found = r;
        }
        return found;
}
