/* SPDX-License-Identifier: MIT */
/* The dump runner against real programs: what reaches the spool, how a
 * dump ends, and that nothing named is left on disk. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "command-line.h"
#include "format-util.h"
#include "dump.h"
#include "test.h"

static char spool_dir[] = "/tmp/test-dump-XXXXXX";

static size_t dir_entries(void) {
        size_t n = 0;
        DIR *d = opendir(spool_dir);
        ASSERT(d);
        for (struct dirent *de; (de = readdir(d));)
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

/* Runs COMMAND (a systemd-style command line) as dump "t.out". */
static int run(const char *command, uint64_t timeout_usec, DumpResult *ret, char **ret_error) {
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_close_ int dir_fd = open(spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char *why = NULL;
        ASSERT(dir_fd >= 0);
        ASSERT(command_line_split(command, &argv, &why) == 0);
        ScheduleDump d = { .entry = (char *) "t.out", .command = (char *) command, .argv = argv };
        DumpOptions o = { .schedule = "test", .spool_dir_fd = dir_fd, .spool_dir = spool_dir, .timeout_usec = timeout_usec };
        int r = dump_run(&d, &o, ret, ret_error);
        if (r >= 0)
                (void) dump_result_failed(ret, &d, ret_error);
        return r;
}

static char *spool_text(const DumpResult *r) {
        char *buf = calloc(1, r->size + 1);
        ASSERT(buf);
        ASSERT(pread(r->fd, buf, r->size, 0) == (ssize_t) r->size);
        return buf;
}

static void test_output(void) {
        DumpResult r;
        char *error = NULL;
        ASSERT(run("printf 'one\\ntwo %s\\n' \"three four\"", 0, &r, &error) == 0);
        ASSERT(!error);
        ASSERT(r.end == DUMP_EXITED && r.status == 0);
        char *text = spool_text(&r);
        ASSERT_STREQ(text, "one\ntwo three four\n");
        ASSERT(r.size == strlen(text));
        free(text);
        /* the spool is unnamed: nothing in the directory, before or after */
        ASSERT(dir_entries() == 0);
        struct stat st;
        ASSERT(fstat(r.fd, &st) == 0 && st.st_nlink == 0 && (st.st_mode & 07777) == 0600);
        dump_result_done(&r);
        ASSERT(r.fd < 0);
}

static void test_big_output_not_in_memory(void) {
        /* 64 MiB through the spool, never through a buffer of ours */
        DumpResult r;
        char *error = NULL;
        ASSERT(run("head -c 67108864 /dev/zero", 0, &r, &error) == 0);
        ASSERT(!error && r.size == 67108864);
        struct stat st;
        ASSERT(fstat(r.fd, &st) == 0 && st.st_size == 67108864);
        dump_result_done(&r);
        ASSERT(dir_entries() == 0);
}

static void test_failures(void) {
        DumpResult r;
        char *error = NULL;

        ASSERT(run("sh -c 'echo partial; echo \"pg_dump: error: no such database\" >&2; exit 3'", 0, &r, &error) == 0);
        ASSERT(r.end == DUMP_EXITED && r.status == 3);
        ASSERT_CONTAINS(error, "Dump t.out (sh) exited with status 3; its last message: pg_dump: error: no such database");
        free(error), error = NULL;
        dump_result_done(&r);

        ASSERT(run("sh -c 'kill -SEGV $$'", 0, &r, &error) == 0);
        ASSERT(r.end == DUMP_KILLED);
        ASSERT_CONTAINS(error, "was killed by signal SIGSEGV");
        free(error), error = NULL;
        dump_result_done(&r);

        uint64_t start = now_monotonic_usec();
        ASSERT(run("sleep 30", 300 * 1000, &r, &error) == 0);
        ASSERT(r.end == DUMP_TIMED_OUT);
        ASSERT_CONTAINS(error, "Dump t.out (sleep) did not finish within 0.3s (DumpTimeoutSec=) and was killed");
        ASSERT(now_monotonic_usec() - start < 10 * USEC_PER_SEC);
        free(error), error = NULL;
        dump_result_done(&r);

        /* not executable: refused before anything runs */
        char plain[64];
        snprintf(plain, sizeof plain, "%s.plain", spool_dir);
        int fd = open(plain, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        ASSERT(fd >= 0);
        close(fd);
        ASSERT(run(plain, 0, &r, &error) == -EACCES);
        ASSERT_CONTAINS(error, "Dump t.out: cannot run '/tmp/test-dump-");
        unlink(plain);
        free(error), error = NULL;
        ASSERT(dir_entries() == 0);
}

static void test_leftovers_are_stopped(void) {
        /* A background process of the dump holds stdout and stderr: the run
         * must neither wait for it nor let it write into the spool later. */
        DumpResult r;
        char *error = NULL;
        uint64_t start = now_monotonic_usec();
        ASSERT(run("sh -c '(sleep 3; echo late; echo late >&2) & echo now'", 0, &r, &error) == 0);
        ASSERT(!error);
        ASSERT(now_monotonic_usec() - start < 2 * USEC_PER_SEC);
        usleep(3500 * 1000);
        char *text = spool_text(&r);
        ASSERT_STREQ(text, "now\n");
        struct stat st;
        ASSERT(fstat(r.fd, &st) == 0 && st.st_size == 4);
        free(text);
        dump_result_done(&r);
}

static void test_dump_set(void) {
        Schedule *s = NULL;
        char *error = NULL;
        char text[512];
        snprintf(text, sizeof text,
                 "[Schedule]\nOnCalendar=daily\n[Backup]\nSource=/srv\nDestination=%s\n"
                 "Dump=a echo a\nDump=b sh -c 'exit 2'\nDump=c echo c\n", spool_dir);
        ASSERT(schedule_parse_string(text, "t", "t.conf", "/var/backups", &s, &error) == 0);
        _cleanup_close_ int dir_fd = open(spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DumpSet set = {};
        ASSERT(dumps_run_all(s, dir_fd, NULL, NULL, &set, &error) == -EPROTO);
        ASSERT_CONTAINS(error, "Dump b (sh) exited with status 2");
        ASSERT(set.n == 0 && !set.results);
        free(error), error = NULL;

        s->n_dumps = 1;         /* only "a" */
        ASSERT(dumps_run_all(s, dir_fd, NULL, NULL, &set, &error) == 0);
        ASSERT(set.n == 1 && set.results[0].size == 2 && streq(set.results[0].entry, "a"));
        dump_set_done(&set);
        s->n_dumps = 3;
        schedule_free(s);
}

int main(void) {
        ASSERT(mkdtemp(spool_dir));
        test_output();
        test_big_output_not_in_memory();
        test_failures();
        test_leftovers_are_stopped();
        test_dump_set();
        ASSERT(dir_entries() == 0);
        rmdir(spool_dir);
        puts("ok");
        return 0;
}
