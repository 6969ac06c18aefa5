/* SPDX-License-Identifier: MIT */
/* The run record: text round trip with hostile values, the files on disk
 * (newest found, by invocation and by archive, the oldest dropped), and the
 * exclude matching of the select stage. */
#include <sys/stat.h>

#include "record.h"
#include "select-policy.h"
#include "select.h"
#include "shrink.h"
#include "test.h"

static void test_round_trip(void) {
        char *warnings[] = { (char *) "a: vanished", (char *) "multi\nline \\ back", NULL };
        char *copies[] = { (char *) "ssh://h/p ok 1764690005000000", NULL };
        char *sources[] = { (char *) "99000 /srv/with\nnewline", NULL };
        RunRecord r = {
                .schedule = (char *) "web",
                .invocation = (char *) "0123456789abcdef0123456789abcdef",
                .start_usec = 1764690000123456, .end_usec = 1764690005000000,
                .result = RUN_WARNINGS, .exit_status = 3,
                .kind = (char *) "full",
                .archive = (char *) "/var/backups/web/web-20251202T154000Z.tar.gz",
                .files = 12, .bytes_read = 4096, .archive_bytes = 999, .warnings = 2, .pruned = 1,
                .point_files = 120000, .point_bytes = 1 << 30, .source_files = 99000,
                .warning_messages = warnings,
                .error = (char *) "line1\nline2\r=x",
                .copies = copies,
                .sources = sources,
                .unexpected = 0, .unexpected_sha256 = (char *) "e3b0c442",
                .shrunk = (char *) "1 files, 0 B read; usually 9 files, 9 B",
        };
        char *text = NULL;
        RunRecord back = RUN_RECORD_NULL;

        ASSERT(record_format(&r, &text) == 0);
        /* one line per key: a newline in a value never starts a key */
        ASSERT(!strstr(text, "\nline2"));
        ASSERT(record_parse(text, &back) == 0);
        ASSERT_STREQ(back.schedule, "web");
        ASSERT_STREQ(back.invocation, r.invocation);
        ASSERT(back.start_usec == r.start_usec && back.end_usec == r.end_usec);
        ASSERT(back.result == RUN_WARNINGS && back.exit_status == 3);
        ASSERT_STREQ(back.kind, "full");
        ASSERT_STREQ(back.archive, r.archive);
        ASSERT(back.files == 12 && back.bytes_read == 4096 && back.archive_bytes == 999);
        ASSERT(back.warnings == 2 && back.pruned == 1);
        ASSERT(back.point_files == 120000 && back.point_bytes == 1 << 30 && back.source_files == 99000);
        ASSERT_STREQ(back.warning_messages[0], "a: vanished");
        ASSERT_STREQ(back.warning_messages[1], "multi\nline \\ back");
        ASSERT(!back.warning_messages[2]);
        ASSERT_STREQ(back.error, r.error);
        ASSERT_STREQ(back.copies[0], copies[0]);
        ASSERT(!back.copies[1]);
        ASSERT_STREQ(back.sources[0], sources[0]);
        ASSERT(!back.sources[1]);
        /* with Expect= set, a count of 0 is written: "none unexpected" */
        ASSERT(strstr(text, "\nUNEXPECTED=0\n"));
        ASSERT_STREQ(back.unexpected_sha256, "e3b0c442");
        ASSERT_STREQ(back.shrunk, r.shrunk);
        record_done(&back);
        free(text);

        /* what does not apply is not written: no restore point of its own, no Expect= */
        r.point_files = r.point_bytes = 0;
        r.unexpected_sha256 = r.shrunk = r.error = r.archive = NULL;
        ASSERT(record_format(&r, &text) == 0);
        ASSERT(!strstr(text, "POINT_") && !strstr(text, "UNEXPECTED") && !strstr(text, "SHRUNK") && !strstr(text, "ERROR"));
        ASSERT(!strstr(text, "SOURCE_FILES") && !strstr(text, "ARCHIVE="));    /* no archive: no point */
        ASSERT(strstr(text, "\nPRUNED=1\n") && strstr(text, "\nEXIT_STATUS=3\n") && strstr(text, "\nRESULT=warnings\n"));
        free(text);

        /* a newer version's keys are skipped; damage is refused */
        ASSERT(record_parse("SCHEDULE=x\nSTART_USEC=5\nRESULT=failed\nCOPY_TARGET=y\n", &back) == 0);
        ASSERT(back.result == RUN_FAILED);
        record_done(&back);
        ASSERT(record_parse("SCHEDULE=x\nSTART_USEC=5\nRESULT=maybe\n", &back) == -EBADMSG);
        ASSERT(record_parse("SCHEDULE=x\nSTART_USEC=-5\nRESULT=failed\n", &back) == -EBADMSG);
        ASSERT(record_parse("SCHEDULE=x\nno equals sign\n", &back) == -EBADMSG);
        ASSERT(record_parse("START_USEC=5\nRESULT=failed\n", &back) == -EBADMSG);
        ASSERT(record_parse("SCHEDULE=x\nSTART_USEC=5\nRESULT=failed\nEXIT_STATUS=300\n", &back) == -EBADMSG);
}

static void test_files(void) {
        char dir[] = "/tmp/test-record.XXXXXX";
        RunRecord r = { .schedule = (char *) "s", .result = RUN_SUCCEEDED }, found = RUN_RECORD_NULL;
        char archive[64], invocation[40];
        RunRecord *list;
        size_t n;

        ASSERT(mkdtemp(dir));
        ASSERT(record_find(dir, "s", NULL, &found) == -ENOENT);
        ASSERT(record_list(dir, "s", 10, &list, &n) == 0 && n == 0);
        record_list_free(list, n);

        for (unsigned i = 0; i < RECORDS_KEPT + 5; i++) {
                snprintf(archive, sizeof archive, "/d/s-%u.tar", i);
                snprintf(invocation, sizeof invocation, "inv%u", i);
                r.start_usec = 1764690000000000 + (uint64_t) i * 1000;
                r.archive = archive;
                r.invocation = invocation;
                ASSERT(record_save(dir, &r) == 0);
        }
        ASSERT(record_list(dir, "s", 1000, &list, &n) == 0);
        ASSERT(n == RECORDS_KEPT);
        ASSERT_STREQ(list[0].archive, "/d/s-5.tar");            /* the oldest went */
        ASSERT_STREQ(list[n - 1].archive, "/d/s-404.tar");
        record_list_free(list, n);

        ASSERT(record_find(dir, "s", NULL, &found) == 0);
        ASSERT_STREQ(found.archive, "/d/s-404.tar");
        record_done(&found);
        ASSERT(record_find(dir, "s", "inv100", &found) == 0);
        ASSERT_STREQ(found.archive, "/d/s-100.tar");
        record_done(&found);
        ASSERT(record_find(dir, "s", "inv1", &found) == -ENOENT);  /* dropped */
        ASSERT(record_find_archive(dir, "s", "/d/s-7.tar", &found) == 0);
        ASSERT(found.start_usec == 1764690000000000 + 7000);
        record_done(&found);
        ASSERT(record_find(dir, "other", NULL, &found) == -ENOENT);

        /* records are private: messages may quote paths */
        char p[256];
        snprintf(p, sizeof p, "%s/runs/s", dir);
        struct stat st;
        ASSERT(stat(p, &st) == 0 && (st.st_mode & 077) == 0);

        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ASSERT(system(cmd) == 0);
}

static void test_excluded(void) {
        char *patterns[] = { (char *) "*.tmp", (char *) "cache/tmp*", (char *) "/srv/data/abs", (char *) "tmp", NULL };

        ASSERT(selection_excluded(patterns, "/srv/data/x.tmp", "/srv/data"));
        ASSERT(selection_excluded(patterns, "/srv/data/sub/y.tmp", "/srv/data"));
        ASSERT(!selection_excluded(patterns, "/srv/data/x.tmpl", "/srv/data"));
        /* with '/': against the path below the source */
        ASSERT(selection_excluded(patterns, "/srv/data/cache/tmp1", "/srv/data"));
        ASSERT(!selection_excluded(patterns, "/srv/data/a/cache/tmp1", "/srv/data"));
        /* a leading '/': the whole path */
        ASSERT(selection_excluded(patterns, "/srv/data/abs", "/srv/data"));
        ASSERT(!selection_excluded(patterns, "/srv/other/abs", "/srv/other"));
        /* the source's own path never takes part: a source under /tmp keeps its files */
        ASSERT(!selection_excluded(patterns, "/tmp/src/file", "/tmp/src"));
        ASSERT(selection_excluded(patterns, "/tmp/src/tmp", "/tmp/src"));
}

/* ShrinkWarn='s "usual": records from before SOURCE_FILES= say nothing
 * about it; an emptied source is told only against records that do. */
static void test_usual_source_files(void) {
        RunRecord h[5];
        for (size_t i = 0; i < 5; i++)
                h[i] = (RunRecord) { .result = RUN_SUCCEEDED, .archive = (char *) "/d/a", .files = 10, .bytes_read = 0,
                                     .source_files = SOURCE_FILES_UNKNOWN };
        RunUsual u;
        char *message = NULL;
        RunPoint emptied = { .files = 1, .bytes = 0, .source_files = 0 };

        ASSERT(shrink_usual(h, 5, NULL, &u) == 0);
        ASSERT(u.known && u.files == 10 && u.source_files == 0);
        ASSERT(shrink_check(&u, &emptied, NULL, 0, &message) == 0 && !message);
        shrink_usual_done(&u);

        h[3].source_files = h[4].source_files = 8;      /* two runs since the upgrade */
        ASSERT(shrink_usual(h, 5, NULL, &u) == 0);
        ASSERT(u.source_files == 8);
        ASSERT(shrink_check(&u, &emptied, NULL, 0, &message) == 1);
        ASSERT_STREQ(message, "1 files, 0 B read; usually 10 files, 0 B");
        free(message);
        shrink_usual_done(&u);

        /* a skeleton of directories usually gives no files: never "emptied" */
        h[3].source_files = h[4].source_files = 0;
        ASSERT(shrink_usual(h, 5, NULL, &u) == 0);
        ASSERT(shrink_check(&u, &emptied, NULL, 0, &message) == 0);
        shrink_usual_done(&u);
}

/* One source of several emptied barely moves the totals: it is told by its
 * own usual, from the records that name it (a source added since has none). */
static void test_usual_per_source(void) {
        char *both[] = { (char *) "1200 /etc", (char *) "3 /srv/data dir", NULL };
        char *etc_only[] = { (char *) "1200 /etc", NULL };
        char *damaged[] = { (char *) "x /srv/data dir", (char *) "9 relative", NULL };
        char *sources[] = { (char *) "/etc", (char *) "/srv/data dir", (char *) "/new", NULL };
        RunRecord h[4];
        for (size_t i = 0; i < 4; i++)
                h[i] = (RunRecord) { .result = RUN_SUCCEEDED, .archive = (char *) "/d/a", .files = 1203,
                                     .bytes_read = 1 << 20, .source_files = 1203, .sources = both };
        h[0].sources = etc_only;                /* before /srv/data was added */
        h[1].sources = damaged;                 /* unreadable lines say nothing */
        h[2].result = RUN_FAILED;               /* failed runs do not count */
        h[2].sources = etc_only;
        RunUsual u;
        char *message = NULL;

        ASSERT(shrink_usual(h, 4, sources, &u) == 0);
        ASSERT(u.n_sources == 3);
        ASSERT(u.source_files_of[0] == 1200 && u.source_files_of[1] == 3 && u.source_files_of[2] == 0);

        uint64_t whole[] = { 1200, 3, 0 }, lost[] = { 1200, 0, 0 }, grew[] = { 1200, 3, 7 };
        RunPoint p = { .files = 1203, .bytes = 1 << 20, .source_files = 1203, .source_files_of = whole, .n_sources = 3 };
        ASSERT(shrink_check(&u, &p, sources, 50, &message) == 0 && !message);
        p.source_files_of = grew;
        ASSERT(shrink_check(&u, &p, sources, 50, &message) == 0);
        p.source_files_of = lost;
        p.files = p.source_files = 1200;
        /* whatever ShrinkWarn= says */
        ASSERT(shrink_check(&u, &p, sources, 0, &message) == 1);
        ASSERT_STREQ(message, "1,200 files, 1.0 MiB read; usually 1,203 files, 1.0 MiB; no files from /srv/data dir, usually 3");
        free(message);
        shrink_usual_done(&u);

        /* SOURCE= values: "FILES PATH", nothing else */
        uint64_t f;
        const char *path;
        char *line = NULL;
        ASSERT(record_source_format(42, "/a b", &line) == 0);
        ASSERT(record_source_parse(line, &f, &path) == 0 && f == 42);
        ASSERT_STREQ(path, "/a b");
        free(line);
        ASSERT(record_source_parse("42", &f, &path) == -EBADMSG);
        ASSERT(record_source_parse(" /a", &f, &path) == -EBADMSG);
        ASSERT(record_source_parse("-1 /a", &f, &path) == -EBADMSG);
        ASSERT(record_source_parse("12345678901234567890123 /a", &f, &path) == -EBADMSG);
}

int main(void) {
        test_round_trip();
        test_usual_source_files();
        test_usual_per_source();
        test_files();
        test_excluded();
        return 0;
}
