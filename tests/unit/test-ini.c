/* SPDX-License-Identifier: MIT */
#include "ini.h"
#include "macro.h"
#include "test.h"

/* Every callback as one line "[section]" or "section:key=value@line". */
typedef struct Log {
        char buf[8192];
        const char *refuse_key;         /* the handler refuses this key */
} Log;

static int record(const char *section, const char *key, const char *value, unsigned line, void *userdata,
                  char **ret_error) {
        Log *log = userdata;
        size_t n = strlen(log->buf);
        if (!key)
                snprintf(log->buf + n, sizeof log->buf - n, "[%s]\n", section);
        else {
                if (log->refuse_key && strcmp(key, log->refuse_key) == 0)
                        return asprintf(ret_error, "no %s here", key) < 0 ? -ENOMEM : -EINVAL;
                snprintf(log->buf + n, sizeof log->buf - n, "%s:%s=%s@%u\n", section, key, value, line);
        }
        return 0;
}

/* Parses the N bytes of TEXT (which may hold NUL bytes). */
static int parse(const char *text, size_t n, Log *log, unsigned *ret_line, char **ret_error) {
        FILE *f = fmemopen((void *) text, n, "r");
        ASSERT(f);
        int r = ini_parse(f, record, log, ret_line, ret_error);
        fclose(f);
        return r;
}

static void expect_ok(const char *text, const char *expected) {
        Log log = {};
        char *error = NULL;
        int r = parse(text, strlen(text), &log, NULL, &error);
        if (r < 0)
                fprintf(stderr, "refused: %s\n", error);
        ASSERT(r == 0);
        ASSERT(!error);
        ASSERT_STREQ(log.buf, expected);
}

static void expect_error_n(const char *text, size_t n, int code, unsigned line, const char *fragment) {
        Log log = {};
        char *error = NULL;
        unsigned at = 0;
        int r = parse(text, n, &log, &at, &error);
        if (r != code)
                fprintf(stderr, "'%s': got %d, expected %d\n", text, r, code);
        ASSERT(r == code);
        ASSERT(at == line);
        ASSERT_CONTAINS(error, fragment);
        free(TAKE_PTR(error));
}

static void expect_error(const char *text, int code, unsigned line, const char *fragment) {
        expect_error_n(text, strlen(text), code, line, fragment);
}

int main(void) {
        /* systemd's rules: whole-line comments, trimmed keys and values, no inline comments */
        expect_ok("# comment\n; also a comment\n\n[A]\n  key  =  value  \n",
                  "[A]\nA:key=value@5\n");
        expect_ok("[A]\npath=/srv/a;b # not a comment\n", "[A]\nA:path=/srv/a;b # not a comment@2\n");
        expect_ok("[A]\nk=a=b\n", "[A]\nA:k=a=b@2\n");
        expect_ok("[A]\nk=\n", "[A]\nA:k=@2\n");
        expect_ok("[A]\nk=v\twith tab\n", "[A]\nA:k=v\twith tab@2\n");
        expect_ok("[A]\r\nk=v\r\n", "[A]\nA:k=v@2\n");
        expect_ok("[A]\nk=v", "[A]\nA:k=v@2\n");              /* no newline at the end */
        expect_ok("[A]\na=1\n[B]\nb=2\n", "[A]\nA:a=1@2\n[B]\nB:b=2@4\n");
        expect_ok("", "");

        /* syntax errors name the line */
        expect_error("k=v\n", -EINVAL, 1, "key 'k' outside of any section");
        expect_error("[A]\n=v\n", -EINVAL, 2, "empty key");
        expect_error("[A]\njust words\n", -EINVAL, 2, "expected KEY=VALUE or [Section], got 'just words'");
        expect_error("[A\n", -EINVAL, 1, "malformed section header '[A'");
        expect_error("[]\n", -EINVAL, 1, "malformed section header");
        expect_error("[A]x\n", -EINVAL, 1, "malformed section header");
        expect_error("[A]\nk=v\\\nmore\n", -EINVAL, 2, "line continuations are not supported");
        expect_error("[A]\nk=a\033[2Jb\n", -EINVAL, 2, "control character 0x1b in line");
        expect_error("[A]\nk=a\rb\n", -EINVAL, 2, "control character 0x0d");

        /* a NUL byte is named as what it is, wherever it is (also on the last line) */
        expect_error_n("[A]\nk=zstd\0junk\n", 15, -EINVAL, 2, "NUL byte");
        expect_error_n("[A]\nk=zstd\0junk", 14, -EINVAL, 2, "NUL byte");
        expect_error_n("[A]\n\0\n", 6, -EINVAL, 2, "NUL byte");

        /* line length: INI_LINE_MAX bytes are fine, one more is not */
        char *line = malloc(INI_LINE_MAX + 16);
        ASSERT(line);
        strcpy(line, "[A]\nk=");
        size_t head = strlen(line);
        memset(line + head, 'x', INI_LINE_MAX - 2);
        strcpy(line + head + INI_LINE_MAX - 2, "\n");
        Log log = {};
        ASSERT(parse(line, strlen(line), &log, NULL, NULL) == 0);
        strcpy(line + head + INI_LINE_MAX - 2, "x\n");
        expect_error(line, -E2BIG, 2, "line too long");
        free(line);

        /* the handler's refusal stops parsing, with its message and line */
        Log refusing = { .refuse_key = "bad" };
        char *error = NULL;
        unsigned at = 0;
        const char *text = "[A]\nok=1\nbad=2\nlater=3\n";
        ASSERT(parse(text, strlen(text), &refusing, &at, &error) == -EINVAL);
        ASSERT(at == 3);
        ASSERT_STREQ(error, "no bad here");
        ASSERT_STREQ(refusing.buf, "[A]\nA:ok=1@2\n");
        free(TAKE_PTR(error));

        /* without ret_error, the message is simply dropped */
        ASSERT(parse("k=v\n", 4, &log, NULL, NULL) == -EINVAL);
        return 0;
}
