/* SPDX-License-Identifier: MIT */
#include "format-util.h"
#include "schedule.h"
#include "test.h"

#define DEST "/var/backups/alexandria"

/* Parses TEXT as schedule "t"; returns the error message or NULL. */
static char *parse_error(const char *text) {
        Schedule *s = NULL;
        char *error = NULL;
        int r = schedule_parse_string(text, "t", "t.conf", DEST, &s, &error);
        if (r >= 0) {
                schedule_free(s);
                return NULL;
        }
        ASSERT(error);
        return error;
}

static void expect_file_error(const char *text, const char *fragment) {
        char *e = parse_error(text);
        if (!e) {
                fprintf(stderr, "accepted but should not be:\n%s\n", text);
                abort();
        }
        ASSERT_CONTAINS(e, fragment);
        free(e);
}

static void expect_spec_error(const char *spec, const char *fragment) {
        Schedule *s = NULL;
        char *error = NULL;
        int r = schedule_from_spec(spec, DEST, &s, &error);
        if (r >= 0) {
                fprintf(stderr, "spec '%s' accepted but should not be\n", spec);
                abort();
        }
        ASSERT(r == -EINVAL);
        ASSERT_CONTAINS(error, fragment);
        free(TAKE_PTR(error));
}

#define OK_HEAD "[Schedule]\nOnCalendar=daily\n[Backup]\nSource=/srv\n"

static void test_file_errors(void) {
        /* every message names the file and line */
        expect_file_error(OK_HEAD "Bogus=1\n", "t.conf:5: unknown key 'Bogus' in section [Backup]");
        expect_file_error("OnCalendar=daily\n", "t.conf:1: key 'OnCalendar' outside of any section");
        expect_file_error("[Schedule]\nOnCalendar=daily\nSource=/srv\n", "t.conf:3: Source= belongs in section [Backup], not [Schedule]");
        expect_file_error(OK_HEAD "Keep=-1\n", "t.conf:5: Keep=-1 is not a count");
        expect_file_error(OK_HEAD "Keep=abc\n", "t.conf:5: Keep=abc is not a count");
        expect_file_error(OK_HEAD "Keep=100001\n", "Keep=100001");
        expect_file_error(OK_HEAD "Compression=rar\n", "t.conf:5: Compression=rar is not supported");
        expect_file_error(OK_HEAD "Source=\n", "t.conf:5: Source= is empty");
        expect_file_error(OK_HEAD "Source=relative/path\n", "t.conf:5: Source=relative/path is not an absolute path");
        expect_file_error(OK_HEAD "Source=/a/../b\n", "'..'");
        expect_file_error(OK_HEAD "Source=/srv\n", "t.conf:5: Source=/srv is listed twice");
        expect_file_error(OK_HEAD "Destination=\n", "Destination= is empty");
        expect_file_error(OK_HEAD "Exclude=\n", "Exclude= is empty");
        expect_file_error("[Schedule]\nOnCalendar=daily\nOnCalendar=weekly\n", "t.conf:3: OnCalendar= is set twice (first on line 2)");
        expect_file_error("[Schedule]\nOnCalendar=%h\n", "t.conf:2: OnCalendar=%h is not a calendar expression");
        expect_file_error("[Schedule]\nOnCalendar=daily\"\n", "not a calendar expression");
        expect_file_error("[Schedule]\nOnCalendar=daily;x\n", "not a calendar expression");
        expect_file_error("[Schedule]\nOnCalendar=$VAR\n", "not a calendar expression");
        expect_file_error("[Schedule]\nPersistent=maybe\n", "t.conf:2: Persistent=maybe is not a boolean");
        expect_file_error("[Schedule]\nRandomizedDelaySec=5 min\n", "is not a time span");
        expect_file_error("[Schedule]\nRandomizedDelaySec=-5\n", "is not a time span");
        expect_file_error("[Service]\nExecStartPost=/bin/evil\n", "t.conf:1: unknown section [Service]");
        expect_file_error("[Schedule]\nOnCalendar=daily \\\n", "line continuations are not supported");
        expect_file_error("[Schedule]\nOnCalendar=daily\x01\n", "control character");
        expect_file_error("[Schedule\n", "malformed section header");
        expect_file_error("[Schedule]\njust words\n", "expected KEY=VALUE");
        expect_file_error("[Schedule]\nOnCalendar=daily\n", "needs at least one Source=");
        expect_file_error("[Backup]\nSource=/srv\n", "needs OnCalendar=");

        /* a source that is the destination, or inside it, would back up nothing */
        expect_file_error(OK_HEAD "Destination=/srv\n", "t.conf: Source=/srv is the same as Destination=/srv");
        expect_file_error(OK_HEAD "Destination=/srv/\n", "Source=/srv is the same as Destination=/srv");
        expect_file_error(OK_HEAD "Destination=/\n", "Source=/srv is inside Destination=/");
        expect_file_error("[Schedule]\nOnCalendar=daily\n[Backup]\nSource=/srv/data/x\nDestination=/srv/data\n",
                          "Source=/srv/data/x is inside Destination=/srv/data");
        /* … but a destination inside a source is fine (the walk leaves it out), and so is a mere prefix */
        ASSERT(!parse_error(OK_HEAD "Destination=/srv/backups\n"));
        ASSERT(!parse_error("[Schedule]\nOnCalendar=daily\n[Backup]\nSource=/srv/data2\nDestination=/srv/data\n"));

        /* a PingURL holds a token: messages never show it */
        char *e = parse_error(OK_HEAD "[Notify]\nPingURL=hc-ping.com/5ecret\n");
        ASSERT_CONTAINS(e, "PingURL= is not an http:// or https:// URL");
        ASSERT(!strstr(e, "5ecret"));
        free(e);
        e = parse_error(OK_HEAD "[Notify]\nPingURL=https://hc-ping.com/5ecret/\n");
        ASSERT_CONTAINS(e, "PingURL=https://hc-ping.com/…: no spaces");
        ASSERT(!strstr(e, "5ecret"));
        free(e);
}

static void test_file_ok(void) {
        Schedule *s = NULL;
        char *error = NULL, *text = NULL;
        const char *in =
                "# comment\n"
                "; another comment\n"
                "[Schedule]\n"
                "  OnCalendar = Mon..Fri *-*-* 02:30:00 Europe/Berlin  \n"
                "Persistent=no\n"
                "RandomizedDelaySec=5min\n"
                "Enabled=false\n"
                "[Backup]\n"
                "Source=/srv/with;semicolon\n"
                "Source=//srv//data/./x/\n"
                "Exclude=*.tmp\n"
                "Destination=/backup/\n"
                "Compression=zstd\n"
                "Keep=7\n";
        ASSERT(schedule_parse_string(in, "t", "t.conf", DEST, &s, &error) == 0);
        ASSERT_STREQ(s->on_calendar, "Mon..Fri *-*-* 02:30:00 Europe/Berlin");
        ASSERT(!s->persistent && !s->enabled);
        ASSERT(s->randomized_delay_sec == 300);
        ASSERT_STREQ(s->sources[0], "/srv/with;semicolon");
        ASSERT_STREQ(s->sources[1], "/srv/data/x");
        ASSERT_STREQ(s->excludes[0], "*.tmp");
        ASSERT_STREQ(s->destination, "/backup");
        ASSERT(s->compression == COMPRESSION_ZSTD);
        ASSERT(s->keep == 7);

        /* what we write, we read back the same */
        Schedule *again = NULL;
        ASSERT(schedule_to_string(s, &text) == 0);
        ASSERT(schedule_parse_string(text, "t", "t.conf", DEST, &again, &error) == 0);
        char *l1 = NULL, *l2 = NULL;
        ASSERT(schedule_format_line(s, DEST, &l1) == 0);
        ASSERT(schedule_format_line(again, DEST, &l2) == 0);
        ASSERT_STREQ(l1, l2);
        ASSERT_CONTAINS(l1, "t OnCalendar=Mon..Fri *-*-* 02:30:00 Europe/Berlin Source=/srv/with;semicolon Source=/srv/data/x");
        ASSERT_CONTAINS(l1, "(disabled)");
        free(l1);
        free(l2);
        free(text);
        schedule_free(again);
        schedule_free(s);
}

static void test_spec(void) {
        expect_spec_error("test;", "expected path;hh:mm;name");
        expect_spec_error(";;", "the path is empty");
        expect_spec_error("a;10:00;", "the name is empty");
        expect_spec_error("a;25:00;x", "hour 25 is out of range");
        expect_spec_error("a;10:61;x", "minute 61 is out of range");
        expect_spec_error("a;1000;x", "time '1000' is not HH:MM");
        expect_spec_error("a;10:00;../x", "invalid name '../x'");
        expect_spec_error("a;10:00;x y", "invalid name 'x y'");
        expect_spec_error("a;10:00;x;extra", "too many fields");
        expect_spec_error("a;;x", "the time is empty");
        expect_spec_error("a;1:2;x", "is not HH:MM");
        expect_spec_error("a;10:00;-x", "invalid name '-x'");
        char name65[80] = "a;10:00;";
        memset(name65 + 8, 'n', 65);
        name65[8 + 65] = 0;
        expect_spec_error(name65, "invalid name");

        /* 64 characters is fine */
        Schedule *s = NULL;
        char *error = NULL, *line = NULL;
        name65[8 + 64] = 0;
        ASSERT(schedule_from_spec(name65, DEST, &s, &error) == 0);
        schedule_free(s);

        ASSERT(schedule_from_spec("/srv/data;9:05;backup_test", DEST, &s, &error) == 0);
        ASSERT_STREQ(s->on_calendar, "*-*-* 09:05:00");
        ASSERT(schedule_format_line(s, DEST, &line) == 0);
        ASSERT_STREQ(line, "/srv/data;09:05;backup_test");
        free(line);
        schedule_free(s);
}

static void test_spec_validated_like_files(void) {
        /* the short form goes through the same key parsers as a file */
        expect_spec_error("/x/../x;12:00;n", "Invalid schedule '/x/../x;12:00;n': Source=/x/../x contains a '..' component");
        expect_spec_error("/srv/a\\;12:00;n", "the path '/srv/a\\' ends in a backslash");
        expect_spec_error("/srv/sp ;12:00;n", "the path '/srv/sp ' starts or ends with a space");
        expect_spec_error(" /srv/sp;12:00;n", "starts or ends with a space");
        /* a control character is named, not printed */
        expect_spec_error("/srv/a\033[2J;12:00;n", "control character (0x1b) in the spec");
        char *error = NULL;
        Schedule *s = NULL;
        ASSERT(schedule_from_spec("/srv/a\n;12:00;n", DEST, &s, &error) == -EINVAL);
        ASSERT(!strchr(error, '\n'));
        free(TAKE_PTR(error));
        error = NULL;
        /* the default destination is checked too */
        ASSERT(schedule_from_spec("/var/backups/alexandria/x;12:00;n", DEST, &s, &error) == -EINVAL);
        ASSERT_CONTAINS(error, "Source=/var/backups/alexandria/x is inside Destination=/var/backups/alexandria");
        free(TAKE_PTR(error));
}

static void test_assignments(void) {
        Schedule *s = NULL;
        char *error = NULL;

        char *ok[] = { "OnCalendar=daily", "Source=/srv", "Exclude=*.tmp", "Keep=3", NULL };
        ASSERT(schedule_from_assignments("a", ok, "Invalid schedule 'a'", DEST, &s, &error) == 0);
        ASSERT_STREQ(s->sources[0], "/srv");
        ASSERT(s->keep == 3);
        ASSERT(!s->path);
        schedule_free(s);
        s = NULL;

        char *same[] = { "OnCalendar=daily", "Source=/srv", "Destination=/srv", NULL };
        ASSERT(schedule_from_assignments("a", same, "Invalid schedule 'a'", DEST, &s, &error) == -EINVAL);
        ASSERT_CONTAINS(error, "Invalid schedule 'a': Source=/srv is the same as Destination=/srv");
        free(TAKE_PTR(error));
        error = NULL;

        char *keep[] = { "OnCalendar=daily", "Source=/srv", "Keep=-1", NULL };
        ASSERT(schedule_from_assignments("a", keep, "Invalid schedule 'a'", DEST, &s, &error) == -EINVAL);
        ASSERT_STREQ(error, "Invalid schedule 'a': Keep=-1 is not a count of archives (0 keeps all, at most 100000)");
        free(TAKE_PTR(error));
        error = NULL;

        /* what a file could not hold, the command line cannot either */
        char *space[] = { "OnCalendar=daily", "Source=/srv ", NULL };
        ASSERT(schedule_from_assignments("a", space, "x", DEST, &s, &error) == -EINVAL);
        ASSERT_CONTAINS(error, "x: Source= '/srv ' starts or ends with a space");
        free(TAKE_PTR(error));
        error = NULL;
        char *newline[] = { "OnCalendar=daily\n[Service]", "Source=/srv", NULL };
        ASSERT(schedule_from_assignments("a", newline, "x", DEST, &s, &error) == -EINVAL);
        ASSERT_CONTAINS(error, "OnCalendar= contains a control character (0x0a)");
        free(TAKE_PTR(error));
        error = NULL;
        char *unknown[] = { "ExecStart=/bin/sh", NULL };
        ASSERT(schedule_from_assignments("a", unknown, "x", DEST, &s, &error) == -EINVAL);
        ASSERT_CONTAINS(error, "unknown key 'ExecStart'");
        free(TAKE_PTR(error));
        error = NULL;
        ASSERT(schedule_from_assignments("a/b", ok, "x", DEST, &s, &error) == -EINVAL);
        ASSERT_CONTAINS(error, "Invalid schedule name 'a/b'");
        free(TAKE_PTR(error));

        ASSERT(schedule_value_check("--source", "/srv/plain", NULL) == 0);
        ASSERT(schedule_value_check("--source", "", NULL) == 0);
        ASSERT(schedule_value_check("--source", "/srv/tab\t", NULL) == -EINVAL);
}

static void test_secrets(void) {
        Schedule *s = NULL;
        char *error = NULL, *line = NULL;

        ASSERT(schedule_parse_string(OK_HEAD "[Notify]\nPingURL=https://hc-ping.com/5ecret-uuid\n"
                                     "NotifyCommand=curl -fsS https://user:pa55@example.org/hook?token=t0ken\n",
                                     "t", "t.conf", DEST, &s, &error) == 0);
        ASSERT(schedule_has_secrets(s));
        ASSERT(schedule_file_mode(s) == 0600);
        ASSERT(schedule_format_line(s, DEST, &line) == 0);
        ASSERT_CONTAINS(line, "PingURL=https://hc-ping.com/…");
        ASSERT_CONTAINS(line, "NotifyCommand=curl -fsS https://example.org/…");
        ASSERT(!strstr(line, "5ecret") && !strstr(line, "pa55") && !strstr(line, "t0ken") && !strstr(line, "user"));
        free(line);
        schedule_free(s);

        ASSERT(schedule_parse_string(OK_HEAD "[Notify]\nNotifyCommand=logger done\n", "t", "t.conf", DEST, &s, &error) == 0);
        ASSERT(!schedule_has_secrets(s));
        ASSERT(schedule_file_mode(s) == 0644);
        schedule_free(s);

        char *r = redact_urls("ping http://127.0.0.1:8080/ping/x/start: HTTP status 500");
        ASSERT_STREQ(r, "ping http://127.0.0.1:8080/…: HTTP status 500");
        free(r);
        r = redact_urls("https://host");
        ASSERT_STREQ(r, "https://host");
        free(r);
        r = redact_urls("a https://u@host?q \"http://h2/p\" end");
        ASSERT_STREQ(r, "a https://host/… \"http://h2/…\" end");
        free(r);
        r = redact_urls("no url here");
        ASSERT_STREQ(r, "no url here");
        free(r);
}

static void test_names(void) {
        ASSERT(schedule_name_is_valid("a"));
        ASSERT(schedule_name_is_valid("backup_test.v2-x"));
        ASSERT(!schedule_name_is_valid(""));
        ASSERT(!schedule_name_is_valid(".hidden"));
        ASSERT(!schedule_name_is_valid("a/b"));
        ASSERT(!schedule_name_is_valid("a%b"));
        ASSERT(!schedule_name_is_valid("a\nb"));
        ASSERT(!schedule_name_is_valid("caf\xc3\xa9"));
        ASSERT(calendar_chars_are_safe("*-*-* 16:07:00"));
        ASSERT(!calendar_chars_are_safe("daily\n[Service]"));
        ASSERT(!calendar_chars_are_safe(""));
}

static void test_dumps_locks_hooks(void) {
        expect_file_error(OK_HEAD "Dump=\n", "t.conf:5: Dump= is empty");
        expect_file_error(OK_HEAD "Dump=pg.sql\n", "t.conf:5: Dump=pg.sql: no command");
        expect_file_error(OK_HEAD "Dump=a/b.sql pg_dumpall\n", "t.conf:5: Dump=a/b.sql pg_dumpall: the entry name 'a/b.sql' must be a plain file name");
        expect_file_error(OK_HEAD "Dump=.. pg_dumpall\n", "no '..'");
        expect_file_error(OK_HEAD "Dump=.hidden pg_dumpall\n", "starting with a letter or digit");
        expect_file_error(OK_HEAD "Dump=x.sql pg_dumpall\nDump=x.sql true\n", "t.conf:6: Dump=x.sql true: the entry name 'x.sql' is used twice");
        expect_file_error(OK_HEAD "Dump=x.sql sh -c 'unterminated\n", "unterminated single quote");
        expect_file_error(OK_HEAD "Dump=x.sql a ; b\n", "a lone ';'");
        expect_file_error(OK_HEAD "DumpTimeoutSec=soon\n", "t.conf:5: DumpTimeoutSec=soon is not a time span");
        expect_file_error(OK_HEAD "DumpTimeoutSec=0\n", "DumpTimeoutSec=0 would fail every dump");
        expect_file_error(OK_HEAD "LockFile=var/lock\n", "t.conf:5: LockFile=var/lock is not an absolute path");
        expect_file_error(OK_HEAD "LockFile=\n", "LockFile= is empty");
        expect_file_error(OK_HEAD "LockFile=/run/x.lock\nLockFile=/run/x.lock:shared\n", "t.conf:6: LockFile=/run/x.lock:shared is listed twice");
        expect_file_error(OK_HEAD "LockTimeoutSec=-1\n", "LockTimeoutSec=-1 is not a time span");
        expect_file_error(OK_HEAD "ExecStartPre=\n", "t.conf:5: ExecStartPre= is empty");
        expect_file_error(OK_HEAD "ExecStartPre=@/bin/true x\n", "only the prefixes '-' and '+'");
        expect_file_error(OK_HEAD "ExecStopPost=--/bin/true\n", "only the prefixes");
        expect_file_error(OK_HEAD "ExecStopPost=/bin/echo a ; /bin/echo b\n", "t.conf:5: ExecStopPost=/bin/echo a ; /bin/echo b: cannot split the command: a lone ';'");
        expect_file_error("[Schedule]\nOnCalendar=daily\nDump=x true\n", "Dump= belongs in section [Backup]");
        expect_file_error(OK_HEAD "ExecStartPre=/opt/a$b/run\n", "a '$' in the command's name");

        Schedule *s = NULL;
        char *error = NULL, *text = NULL, *line = NULL;
        const char *file = OK_HEAD
                "Dump=all.sql runuser -u postgres -- pg_dumpall\n"
                "Dump=app.dump pg_dump -Fc \"dbname=app user=backup\" 'a b'\\x41\\;\n"
                "DumpTimeoutSec=2h\n"
                "LockFile=/var/lib/spamd/lock:shared\n"
                "LockFile=/var/spool/x.lock\n"
                "LockTimeoutSec=infinity\n"
                "ExecStartPre=-+/usr/local/sbin/quiesce 100%\n"
                "ExecStopPost=/usr/local/sbin/resume $SERVICE_RESULT\n";
        ASSERT(schedule_parse_string(file, "t", "t.conf", DEST, &s, &error) == 0);
        ASSERT(s->n_dumps == 2);
        ASSERT_STREQ(s->dumps[0].entry, "all.sql");
        ASSERT(s->dumps[0].line == 5 && s->dumps[1].line == 6);
        ASSERT(strv_length(s->dumps[0].argv) == 5);
        ASSERT_STREQ(s->dumps[0].argv[4], "pg_dumpall");
        ASSERT(strv_length(s->dumps[1].argv) == 4);
        ASSERT_STREQ(s->dumps[1].argv[2], "dbname=app user=backup");
        ASSERT_STREQ(s->dumps[1].argv[3], "a bA;");
        ASSERT(s->dump_timeout_sec == 7200);
        ASSERT(s->n_locks == 2 && s->locks[0].shared && !s->locks[1].shared);
        ASSERT_STREQ(s->locks[0].path, "/var/lib/spamd/lock");
        ASSERT(s->lock_timeout_sec == SCHEDULE_TIMEOUT_INFINITY);
        ASSERT(s->n_exec_start_pre == 1 && s->exec_start_pre[0].ignore_failure && s->exec_start_pre[0].privileged);
        ASSERT_STREQ(s->exec_start_pre[0].argv[0], "/usr/local/sbin/quiesce");
        ASSERT(s->n_exec_stop_post == 1 && !s->exec_stop_post[0].ignore_failure);
        ASSERT_STREQ(s->exec_stop_post[0].argv[1], "$SERVICE_RESULT");   /* no expansion */

        /* written back the same, and read back the same */
        ASSERT(schedule_to_string(s, &text) == 0);
        ASSERT_CONTAINS(text, "Dump=app.dump pg_dump -Fc \"dbname=app user=backup\" 'a b'\\x41\\;\n");
        ASSERT_CONTAINS(text, "DumpTimeoutSec=2h\n");
        ASSERT_CONTAINS(text, "LockFile=/var/lib/spamd/lock:shared\n");
        ASSERT_CONTAINS(text, "LockTimeoutSec=infinity\n");
        ASSERT_CONTAINS(text, "ExecStartPre=-+/usr/local/sbin/quiesce 100%\n");
        Schedule *again = NULL;
        ASSERT(schedule_parse_string(text, "t", "t.conf", DEST, &again, &error) == 0);
        ASSERT(again->n_dumps == 2 && again->n_locks == 2 && again->n_exec_stop_post == 1);
        ASSERT_STREQ(again->dumps[1].argv[3], "a bA;");
        ASSERT(schedule_format_line(s, DEST, &line) == 0);
        ASSERT_CONTAINS(line, " Dump=all.sql runuser -u postgres -- pg_dumpall");

        /* commands: absolute or in PATH, checked apart from parsing */
        ASSERT(schedule_check_commands(s, &error) < 0);
        ASSERT_CONTAINS(error, "t.conf:11: ExecStartPre=-+/usr/local/sbin/quiesce 100%: the command /usr/local/sbin/quiesce does not exist");
        free(error);
        error = NULL;
        schedule_free(s);
        s = NULL;
        ASSERT(schedule_parse_string(OK_HEAD "Dump=x sh -c true\nDump=y no-such-dump-command-here\n", "t", "t.conf", DEST, &s, &error) == 0);
        ASSERT(schedule_check_commands(s, &error) == -EINVAL);
        ASSERT_CONTAINS(error, "t.conf:6: Dump=y no-such-dump-command-here: the command 'no-such-dump-command-here' is not in PATH");
        free(error);

        schedule_free(s);
        schedule_free(again);
        free(text);
        free(line);
}

int main(void) {
        test_dumps_locks_hooks();
        test_file_errors();
        test_file_ok();
        test_spec();
        test_spec_validated_like_files();
        test_assignments();
        test_secrets();
        test_names();
        puts("ok");
        return 0;
}
