/* SPDX-License-Identifier: MIT */
/* CopyTo= and the keys around it: what is accepted, what it becomes, and
 * that every refusal names file, line and key. */
#include "copy-target.h"
#include "schedule.h"
#include "test.h"

static CopyTarget *parse_ok(const char *spec) {
        CopyTarget *t = NULL;
        char *error = NULL;
        if (copy_target_parse(spec, &t, &error) < 0) {
                fprintf(stderr, "'%s' refused: %s\n", spec, error);
                abort();
        }
        return t;
}

static void expect_refused(const char *spec, const char *fragment) {
        CopyTarget *t = NULL;
        char *error = NULL;
        if (copy_target_parse(spec, &t, &error) >= 0) {
                fprintf(stderr, "'%s' accepted but should not be\n", spec);
                abort();
        }
        ASSERT_CONTAINS(error, fragment);
        free(error);
}

static void test_ssh(void) {
        CopyTarget *t = parse_ok("ssh://backup@offsite.example:2222/srv/copies/");
        ASSERT(t->kind == COPY_SSH);
        ASSERT_STREQ(t->user, "backup");
        ASSERT_STREQ(t->host, "offsite.example");
        ASSERT(t->port == 2222);
        ASSERT_STREQ(t->path, "/srv/copies");
        char *loc = copy_target_location(t, "");
        ASSERT_STREQ(loc, "backup@offsite.example:/srv/copies/");
        free(loc);
        copy_target_free(t);

        t = parse_ok("ssh://[::1]/");
        ASSERT(!t->user && t->port == 0);
        ASSERT_STREQ(t->host, "::1");
        loc = copy_target_location(t, "x");
        ASSERT_STREQ(loc, "[::1]:/x");
        free(loc);
        copy_target_free(t);

        expect_refused("ssh://host", "no path");
        expect_refused("ssh://host:backups", "'backups' is not a port number; the path must be absolute");
        expect_refused("ssh://host:0/x", "port 0 is out of range (1-65535)");
        expect_refused("ssh://host:65536/x", "port 65536 is out of range");
        expect_refused("ssh://host:9999999/x", "out of range");
        expect_refused("ssh://-oProxyCommand=x/y", "is not a host name");
        expect_refused("ssh://-l@host/x", "is not a user name");
        expect_refused("ssh://host/~/x", "must be absolute");
        expect_refused("ssh://host/a/../b", "'..'");
        expect_refused("ssh://host/a b", "space");
        expect_refused("ssh://host/$(id)", "may only contain");
}

static void test_rclone(void) {
        CopyTarget *t = parse_ok("rclone:b2:bucket/alexandria");
        ASSERT(t->kind == COPY_RCLONE);
        ASSERT_STREQ(t->remote, "b2:");
        ASSERT_STREQ(t->remote_path, "bucket/alexandria");
        ASSERT_STREQ(t->display, "rclone:b2:bucket/alexandria");
        copy_target_free(t);

        t = parse_ok("rclone::local:/mnt/offsite/");
        ASSERT_STREQ(t->remote, ":local:");
        ASSERT_STREQ(t->remote_path, "/mnt/offsite");
        copy_target_free(t);

        /* parameters hold passwords and keys: never shown */
        t = parse_ok("rclone::sftp,host=h,user=u,pass=\"s3cr:et\":backups");
        ASSERT_STREQ(t->remote, ":sftp,host=h,user=u,pass=\"s3cr:et\":");
        ASSERT_STREQ(t->remote_path, "backups");
        ASSERT_STREQ(t->display, "rclone::sftp,…:backups");
        ASSERT(!strstr(t->display, "s3cr"));
        copy_target_free(t);

        t = parse_ok("rclone:remote:");
        ASSERT_STREQ(t->remote_path, "");
        copy_target_free(t);

        expect_refused("rclone:nocolon", "expected rclone:REMOTE:PATH");
        expect_refused("rclone::local:relative/dir", "a :local: path must be absolute");
        expect_refused("rclone::local:", "a :local: path must be absolute");
        expect_refused("rclone::sftp,host=x", "not closed by ':'");
        expect_refused("rclone:-x:path", "not an rclone remote name");
        expect_refused("rclone:r:a/../b", "'..'");
        expect_refused("rclone::sftp,pass=secret:a/../b", "rclone::sftp,…:a/../b");
}

static void test_schemes(void) {
        expect_refused("ftp://host/x", "unknown scheme 'ftp'");
        expect_refused("/srv/copies", "unknown scheme");
        expect_refused("", "empty");
        ASSERT(ssh_command_is_valid("ssh -i /etc/alexandria/offsite.key"));
        ASSERT(!ssh_command_is_valid(""));
        ASSERT(!ssh_command_is_valid("-oProxyCommand=x"));
        ASSERT(!ssh_command_is_valid("ssh\n-i x"));
}

#define HEAD "[Schedule]\nOnCalendar=daily\n[Backup]\nSource=/srv\n"

static void expect_file_error(const char *text, const char *fragment) {
        Schedule *s = NULL;
        char *error = NULL;
        if (schedule_parse_string(text, "t", "t.conf", "/var/backups", &s, &error) >= 0) {
                fprintf(stderr, "accepted but should not be:\n%s\n", text);
                abort();
        }
        ASSERT_CONTAINS(error, fragment);
        free(error);
}

static void test_keys(void) {
        expect_file_error(HEAD "CopyTo=gopher://x/y\n", "t.conf:5: CopyTo=gopher://x/y: unknown scheme");
        expect_file_error(HEAD "CopyTo=ssh://h:99999/x\n", "t.conf:5: CopyTo=ssh://h:99999/x: port 99999 is out of range");
        expect_file_error(HEAD "CopyTo=rclone::local:rel\n", "t.conf:5: CopyTo=rclone::local:rel: a :local: path must be absolute");
        expect_file_error(HEAD "CopyTo=ssh://h/x\nCopyTo=ssh://h/x\n", "t.conf:6: CopyTo=ssh://h/x is listed twice");
        expect_file_error(HEAD "CopyKeep=0\n", "t.conf:5: CopyKeep=0 is not a count of archives");
        expect_file_error(HEAD "CopyKeep=some\n", "t.conf:5: CopyKeep=some");
        expect_file_error(HEAD "RcloneConfig=rclone.conf\n", "t.conf:5: RcloneConfig=rclone.conf is not an absolute path");
        expect_file_error(HEAD "SSHCommand=\n", "t.conf:5: SSHCommand= is not a command");
        expect_file_error(HEAD "DestinationGroup=../x\n", "t.conf:5: DestinationGroup=../x is not a group name");
        expect_file_error(HEAD "CopyKeep=2\nCopyKeep=3\n", "t.conf:6: CopyKeep= is set twice (first on line 5)");

        Schedule *s = NULL, *again = NULL;
        char *error = NULL, *text = NULL, *line = NULL;
        ASSERT(schedule_parse_string(HEAD "CopyTo=ssh://b@h:22/srv\nCopyTo=rclone::sftp,pass=xyz:p\nSSHCommand=ssh -i /k\n"
                                     "RcloneConfig=/etc/rclone.conf\nCopyKeep=all\nDestinationGroup=alexandria-pull\n",
                                     "t", "t.conf", "/var/backups", &s, &error) == 0);
        ASSERT(strv_length(s->copy_to) == 2);
        ASSERT(s->copy_keep == COPY_KEEP_ALL);
        ASSERT_STREQ(s->ssh_command, "ssh -i /k");
        ASSERT_STREQ(s->destination_group, "alexandria-pull");
        ASSERT(schedule_to_string(s, &text) == 0);
        ASSERT(schedule_parse_string(text, "t", "t.conf", "/var/backups", &again, &error) == 0);
        ASSERT(again->copy_keep == COPY_KEEP_ALL && strv_length(again->copy_to) == 2);
        ASSERT_STREQ(again->rclone_config, "/etc/rclone.conf");
        /* list shows targets redacted */
        ASSERT(schedule_format_line(s, "/var/backups", &line) == 0);
        ASSERT_CONTAINS(line, "CopyTo=ssh://b@h:22/srv CopyTo=rclone::sftp,…:p CopyKeep=all DestinationGroup=alexandria-pull");
        ASSERT(!strstr(line, "xyz"));
        free(line);
        free(text);
        schedule_free(again);
        schedule_free(s);
}

int main(void) {
        test_ssh();
        test_rclone();
        test_schemes();
        test_keys();
        puts("ok");
        return 0;
}
