/* SPDX-License-Identifier: MIT */
#include "escape.h"
#include "json-util.h"
#include "test.h"

static size_t seq(const char *s) {
        return utf8_sequence((const unsigned char *) s);
}

static char *json(const char *s) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        ASSERT(f);
        json_put_string(f, s);
        ASSERT(fclose(f) == 0);
        return buf;
}

static void expect_text(const char *in, const char *out) {
        char *e = text_escape(in);
        ASSERT_STREQ(e, out);
        free(e);
}

static void expect_json(const char *in, const char *out) {
        char *e = json(in);
        ASSERT_STREQ(e, out);
        free(e);
}

static void test_utf8(void) {
        ASSERT(seq("a") == 1);
        ASSERT(seq("\xc3\xa9") == 2);                   /* é */
        ASSERT(seq("\xe2\x82\xac") == 3);               /* € */
        ASSERT(seq("\xf0\x9f\x98\x80") == 4);           /* 😀 */
        ASSERT(seq("\x80") == 0);                       /* a stray continuation byte */
        ASSERT(seq("\xc0\x80") == 0);                   /* overlong NUL */
        ASSERT(seq("\xc1\xbf") == 0);                   /* overlong */
        ASSERT(seq("\xe0\x80\xaf") == 0);               /* overlong '/' */
        ASSERT(seq("\xed\xa0\x80") == 0);               /* a surrogate */
        ASSERT(seq("\xf4\x90\x80\x80") == 0);           /* above U+10FFFF */
        ASSERT(seq("\xf5\x80\x80\x80") == 0);
        ASSERT(seq("\xe2\x82") == 0);                   /* cut short by the NUL */
        ASSERT(seq("\xf0\x9f\x98") == 0);
        ASSERT(utf8_is_valid(""));
        ASSERT(utf8_is_valid("plain /srv/Ünïcödé €"));
        ASSERT(!utf8_is_valid("latin-1 \xe9t\xe9"));
        ASSERT(!utf8_is_valid("cut \xe2\x82"));
}

static void test_text(void) {
        expect_text("plain", "plain");
        expect_text("é €", "é €");
        expect_text("a\nb", "a\\x0ab");
        expect_text("\033[2Jtitle", "\\x1b[2Jtitle");
        expect_text("del\x7f", "del\\x7f");
        expect_text("tab\there", "tab\\x09here");
        expect_text("latin-1 \xe9", "latin-1 \\xe9");
        expect_text("c1 \xc2\x9b", "c1 \\u009b");       /* CSI as a C1 control */
        expect_text("nbsp \xc2\xa0", "nbsp \xc2\xa0");  /* U+00A0 is no control */
}

static void test_json(void) {
        expect_json(NULL, "null");
        expect_json("", "\"\"");
        expect_json("say \"hi\"\\", "\"say \\\"hi\\\"\\\\\"");
        expect_json("a\nb\tc\rd\be\f", "\"a\\nb\\tc\\rd\\be\\f\"");
        expect_json("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
        expect_json("é €😀", "\"é €😀\"");
        /* not UTF-8: U+FFFD, never \u00XX (that would be another, valid character) */
        expect_json("\xe9t\xe9", "\"\\ufffdt\\ufffd\"");
        expect_json("\xc0\x80", "\"\\ufffd\\ufffd\"");
        expect_json("c1 \xc2\x9b", "\"c1 \\u009b\"");
}

static void test_unit_values(void) {
        ASSERT(!unit_value_problem("/srv/backups", false));
        ASSERT(!unit_value_problem("/srv/with space/x", false));
        ASSERT(!unit_value_problem("/srv/100%", false));
        ASSERT_CONTAINS(unit_value_problem("/etc/alexandria\n[Service]\nExecStart=/bin/sh", false), "control character");
        ASSERT_CONTAINS(unit_value_problem("/etc/alexandria\n", true), "control character");
        ASSERT_CONTAINS(unit_value_problem("/x\x7f", false), "control character");
        ASSERT_CONTAINS(unit_value_problem("/latin-1 \xe9", false), "UTF-8");
        ASSERT_CONTAINS(unit_value_problem("/latin-1 \xe9", true), "UTF-8");
        ASSERT_CONTAINS(unit_value_problem("/ends in space ", false), "space");
        ASSERT_CONTAINS(unit_value_problem(" /starts", false), "space");
        ASSERT_CONTAINS(unit_value_problem("/ends\\", false), "backslash");
        /* inside quotes, spaces and a backslash are just characters */
        ASSERT(!unit_value_problem("/ends in space ", true));
        ASSERT(!unit_value_problem("/ends\\", true));

        char *e = unit_escape_specifiers("/srv/%h/100%%");
        ASSERT_STREQ(e, "/srv/%%h/100%%%%");
        free(e);
        e = unit_escape_specifiers("/plain");
        ASSERT_STREQ(e, "/plain");
        free(e);
        e = unit_escape_quoted("/a \"b\"\\c%i ");
        ASSERT_STREQ(e, "\"/a \\\"b\\\"\\\\c%%i \"");
        free(e);
        e = unit_escape_quoted("");
        ASSERT_STREQ(e, "\"\"");
        free(e);
        e = unit_escape_command("/bin/echo %n $HOME $$ 100%");
        ASSERT_STREQ(e, "/bin/echo %%n $$HOME $$$$ 100%%");
        free(e);
}

int main(void) {
        test_utf8();
        test_text();
        test_json();
        test_unit_values();
        return 0;
}
