/* SPDX-License-Identifier: MIT */
/* The selection policy's decisions that need no dpkg: Expect= coverage,
 * built-in excludes below a source only, the destination, sockets. */
#include <fcntl.h>
#include <sys/stat.h>

#include "select-policy.h"
#include "test.h"

/* The policy borrows the schedule's excludes: the schedule lives as long. */
static Schedule *current;

static SelectPolicy *policy(const char *text) {
        SelectPolicy *p = NULL;
        char *error = NULL;
        current = schedule_free(current);
        ASSERT(schedule_parse_string(text, "t", "t.conf", "/nonexistent/dest", &current, &error) == 0);
        ASSERT(select_policy_new(current, NULL, &p, &error) == 0);
        return p;
}

static bool expected(const SelectPolicy *p, const char *path) {
        return select_policy_expected(p, path, strlen(path));
}

static SelectDecision check(SelectPolicy *p, const char *path, mode_t mode, int level, const char *source) {
        struct stat st = { .st_mode = mode, .st_dev = 1, .st_ino = 2 };
        SelectCandidate c = {
                .path = path, .len = strlen(path), .source = source, .level = level,
                .st = &st, .parent_dev = 1, .dir_fd = AT_FDCWD, .name = path,
        };
        SelectDecision d;
        select_policy_check(p, &c, &d);
        return d;
}

#define HEAD "[Schedule]\nOnCalendar=daily\n[Backup]\nSource=/\n"

int main(void) {
        SelectPolicy *p = policy(HEAD "Expect=/srv\nExpect=/etc/*.conf\nExpect=/home/*/.ssh\nExpect=/var/lib/a?c\n");
        ASSERT(select_policy_reports_unexpected(p));

        /* a plain path: itself and everything below, nothing beside it */
        ASSERT(expected(p, "/srv"));
        ASSERT(expected(p, "/srv/www/index.html"));
        ASSERT(!expected(p, "/srvx"));
        ASSERT(!expected(p, "/sr"));
        /* a glob: what it matches, and what is below that; '*' stops at '/' */
        ASSERT(expected(p, "/etc/a.conf"));
        ASSERT(!expected(p, "/etc/sub/a.conf"));
        ASSERT(expected(p, "/etc/x.conf/inside"));
        ASSERT(expected(p, "/home/alice/.ssh/authorized_keys"));
        ASSERT(expected(p, "/home/alice/.ssh"));
        ASSERT(!expected(p, "/home/alice/.bashrc"));
        ASSERT(!expected(p, "/home/.ssh"));
        ASSERT(expected(p, "/var/lib/abc/x"));
        ASSERT(!expected(p, "/var/lib/abbc"));

        /* stored files no Expect= covers are unexpected; directories never */
        SelectDecision d = check(p, "/opt/tool", S_IFREG, 1, "/");
        ASSERT(d.reason == SELECT_SOURCE && d.unexpected);
        d = check(p, "/srv/data", S_IFREG, 1, "/");
        ASSERT(d.reason == SELECT_SOURCE && !d.unexpected);
        d = check(p, "/opt", S_IFDIR, 1, "/");
        ASSERT(d.reason == SELECT_SOURCE && d.descend && !d.unexpected);

        /* built-in excludes: below a source only */
        d = check(p, "/tmp", S_IFDIR, 1, "/");
        ASSERT(d.reason == SKIP_BUILTIN && !d.descend && d.detail);
        d = check(p, "/var/lib/apt/lists", S_IFDIR, 3, "/");
        ASSERT(d.reason == SKIP_BUILTIN);
        d = check(p, "/tmp", S_IFDIR, 0, "/tmp");
        ASSERT(d.reason == SELECT_SOURCE && d.descend);
        d = check(p, "/tmpx", S_IFDIR, 1, "/");
        ASSERT(d.reason == SELECT_SOURCE);
        d = check(p, "/srv/tmp", S_IFDIR, 2, "/");
        ASSERT(d.reason == SELECT_SOURCE);
        d = check(p, "/run/x.sock", S_IFSOCK, 2, "/run");
        ASSERT(d.reason == SKIP_SOCKET && !d.unexpected);
        select_policy_free(p);

        /* no Expect=: no report */
        p = policy(HEAD "Exclude=*.tmp\n");
        ASSERT(!select_policy_reports_unexpected(p));
        d = check(p, "/opt/tool", S_IFREG, 1, "/");
        ASSERT(d.reason == SELECT_SOURCE && !d.unexpected);
        d = check(p, "/opt/a.tmp", S_IFREG, 2, "/");
        ASSERT(d.reason == SKIP_EXCLUDE);
        /* Exclude= beats the built-in list too (both leave it out, Exclude= says so) */
        select_policy_free(p);
        p = policy(HEAD "Exclude=/tmp\n");
        d = check(p, "/tmp", S_IFDIR, 1, "/");
        ASSERT(d.reason == SKIP_EXCLUDE);
        select_policy_free(p);

        /* the destination, by device and inode */
        char dir[] = "/tmp/test-select-policy.XXXXXX", conf[256];
        ASSERT(mkdtemp(dir));
        snprintf(conf, sizeof conf, HEAD "Destination=%s\n", dir);
        Schedule *s = NULL;
        char *error = NULL;
        ASSERT(schedule_parse_string(conf, "t", "t.conf", "/nonexistent", &s, &error) == 0);
        ASSERT(select_policy_new(s, NULL, &p, &error) == 0);
        struct stat st;
        ASSERT(stat(dir, &st) == 0);
        SelectCandidate c = { .path = dir, .len = strlen(dir), .source = "/", .level = 2, .st = &st,
                              .parent_dev = st.st_dev, .dir_fd = AT_FDCWD, .name = dir };
        select_policy_check(p, &c, &d);
        ASSERT(d.reason == SKIP_DESTINATION && !d.descend);
        select_policy_free(p);
        schedule_free(s);
        schedule_free(current);
        ASSERT(rmdir(dir) == 0);

        for (size_t i = 0; i < select_builtin_paths_n; i++)
                ASSERT(select_builtin_paths[i].path[0] == '/' && select_builtin_paths[i].why);
        ASSERT(select_skipped_fs_types_n > 20);
        puts("ok");
        return 0;
}
