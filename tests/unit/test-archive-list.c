/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <sys/stat.h>

#include "archive-list.h"
#include "test.h"

static void touch(const char *dir, const char *name) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, name);
        int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        ASSERT(fd >= 0);
        close(fd);
}

int main(void) {
        char *name = NULL, *sched = NULL;
        uint64_t t;
        Compression c;

        /* 2026-11-22 16:07:00 UTC */
        ASSERT(archive_name_format("web.v2", UINT64_C(1795363620) * 1000000, COMPRESSION_ZSTD, false, &name) == 0);
        ASSERT_STREQ(name, "web.v2-20261122T160700Z.tar.zst");
        ASSERT(archive_name_parse(name, &sched, &t, &c, NULL));
        ASSERT_STREQ(sched, "web.v2");
        ASSERT(t == UINT64_C(1795363620) * 1000000);
        ASSERT(c == COMPRESSION_ZSTD);
        free(sched);
        free(name);

        ASSERT(archive_name_parse("a-b-20261122T160700Z.tar", &sched, NULL, &c, NULL));
        ASSERT_STREQ(sched, "a-b");
        ASSERT(c == COMPRESSION_NONE);
        free(sched);
        ASSERT(!archive_name_parse("a-20261122T160700Z.tar.bz2", NULL, NULL, NULL, NULL));
        ASSERT(!archive_name_parse("a-20261122T160700.tar.gz", NULL, NULL, NULL, NULL));
        ASSERT(!archive_name_parse("a-2026112XT160700Z.tar.gz", NULL, NULL, NULL, NULL));
        ASSERT(!archive_name_parse("-20261122T160700Z.tar.gz", NULL, NULL, NULL, NULL));
        ASSERT(!archive_name_parse("20261122T160700Z.tar.gz", NULL, NULL, NULL, NULL));
        ASSERT(!archive_name_parse(".#a-20261122T160700Z.tar.gz.1234", NULL, NULL, NULL, NULL));

        bool enc = false;
        ASSERT(archive_name_format("x", UINT64_C(1795363620) * 1000000, COMPRESSION_GZIP, true, &name) == 0);
        ASSERT_STREQ(name, "x-20261122T160700Z.tar.gz.enc");
        ASSERT(archive_name_parse(name, &sched, NULL, &c, &enc));
        ASSERT(enc && c == COMPRESSION_GZIP);
        ASSERT_STREQ(sched, "x");
        free(sched);
        free(name);
        ASSERT(!archive_name_parse("x-20261122T160700Z.enc", NULL, NULL, NULL, NULL));

        /* incremental archives: ".incr" before the tar suffix, any compression, encrypted or not */
        bool incr = false;
        ASSERT(archive_name_format_kind("x.incr", UINT64_C(1795363620) * 1000000, true, COMPRESSION_ZSTD, true, &name) == 0);
        ASSERT_STREQ(name, "x.incr-20261122T160700Z.incr.tar.zst.enc");
        ASSERT(archive_name_parse_kind(name, &sched, &t, &incr, &c, &enc));
        ASSERT(incr && enc && c == COMPRESSION_ZSTD && t == UINT64_C(1795363620) * 1000000);
        ASSERT_STREQ(sched, "x.incr");
        free(sched);
        free(name);
        ASSERT(archive_name_parse("x-20261122T160700Z.incr.tar", &sched, NULL, &c, NULL) && c == COMPRESSION_NONE);
        ASSERT_STREQ(sched, "x");
        free(sched);
        ASSERT(archive_name_parse_kind("x-20261122T160700Z.tar.gz", NULL, NULL, &incr, NULL, NULL) && !incr);
        ASSERT(!archive_name_parse("x-20261122T160700Z.incr", NULL, NULL, NULL, NULL));
        ASSERT(!archive_name_parse("x-20261122T160700Z.incr.incr.tar", NULL, NULL, NULL, NULL));
        ASSERT(!archive_name_parse("x-20261122T160700Zincr.tar", NULL, NULL, NULL, NULL));
        ASSERT(!archive_name_parse(".incr.tar", NULL, NULL, NULL, NULL));

        /* listing: only this schedule's archives, oldest first, nothing else */
        char dir[] = "/tmp/test-archive-list.XXXXXX";
        ASSERT(mkdtemp(dir));
        touch(dir, "a-20261122T160700Z.tar.gz");
        touch(dir, "a-20251122T160700Z.tar.xz");
        touch(dir, "a-20261122T160701Z.incr.tar.gz");
        touch(dir, "a-b-20201122T160700Z.tar.gz");     /* schedule "a-b", not "a" */
        touch(dir, ".#a-20261122T160800Z.tar.gz.x");  /* a temporary file */
        touch(dir, ".alexandria-a.lock");
        touch(dir, "notes.txt");
        ArchiveInfo *list;
        size_t n;
        ASSERT(archive_list(dir, "a", &list, &n) == 0);
        ASSERT(n == 3);
        ASSERT_STREQ(list[0].filename, "a-20251122T160700Z.tar.xz");
        ASSERT_STREQ(list[1].filename, "a-20261122T160700Z.tar.gz");
        ASSERT_STREQ(list[2].filename, "a-20261122T160701Z.incr.tar.gz");
        ASSERT(!list[1].incremental && list[2].incremental);
        archive_list_free(list, n);
        ASSERT(archive_list(dir, NULL, &list, &n) == 0);
        ASSERT(n == 4);
        ASSERT_STREQ(list[0].schedule, "a-b");
        archive_list_free(list, n);

        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ASSERT(system(cmd) == 0);

        ASSERT(archive_list("/nonexistent/dir", "a", &list, &n) == 0 && n == 0);
        puts("ok");
        return 0;
}
