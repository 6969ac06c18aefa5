/* SPDX-License-Identifier: MIT */
/* The index: written in walk order and read back the same, a damaged one
 * refused whole, its size per file. */
#include <fcntl.h>
#include <fts.h>
#include <sys/stat.h>

#include "index.h"
#include "test.h"

static char dir[] = "/tmp/test-index.XXXXXX";
static int dir_fd;

static IndexHeader header(void) {
        IndexHeader h = {};
        h.schedule = strdup("web");
        h.fingerprint = strdup("abc");
        h.walk_start_usec = 1700000123;
        ASSERT(strv_extend(&h.chain, "web-20240101T000000Z.tar.gz") == 0);
        ASSERT(strv_extend(&h.chain, "web-20240102T000000Z.incr.tar.gz") == 0);
        return h;
}

static void test_compare(void) {
        /* a directory, what is below it, then its siblings */
        ASSERT(index_path_compare("/a", "/a/b") < 0);
        ASSERT(index_path_compare("/a/b", "/a.c") < 0);
        ASSERT(index_path_compare("/a/zzz", "/ab") < 0);
        ASSERT(index_path_compare("/a/b/c", "/a/b0") < 0);
        ASSERT(index_path_compare("/a", "/a") == 0);
        ASSERT(index_path_compare("/b", "/a/z") > 0);
        ASSERT(index_path_compare("/a/\xc3\xa9", "/a/z") > 0);  /* bytes are unsigned */
        ASSERT(index_path_compare("/a/\x01", "/a/") > 0);
}

/* fts with the comparator walks in index order */
static void test_fts_order(void) {
        static const char *const names[] = { "d", "d/x", "d.x", "d0", "d/x/y", "d/a", "e\xc3\xa9", "e" };
        char p[4096];
        snprintf(p, sizeof p, "%s/tree", dir);
        ASSERT(mkdir(p, 0700) == 0);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                snprintf(p, sizeof p, "%s/tree/%s", dir, names[i]);
                bool is_dir = strcmp(names[i], "d") == 0 || strcmp(names[i], "d/x") == 0;
                ASSERT(is_dir ? mkdir(p, 0700) == 0 : close(open(p, O_CREAT | O_WRONLY, 0600)) == 0);
        }
        snprintf(p, sizeof p, "%s/tree", dir);
        char *roots[] = { p, NULL };
        FTS *fts = fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR, index_fts_compare);
        ASSERT(fts);
        char last[4096] = "";
        unsigned n = 0;
        for (FTSENT *e; (e = fts_read(fts));) {
                if (e->fts_info == FTS_DP)
                        continue;
                ASSERT(index_path_compare(last, e->fts_path) < 0);
                snprintf(last, sizeof last, "%s", e->fts_path);
                n++;
        }
        fts_close(fts);
        ASSERT(n == ELEMENTSOF(names) + 1);
}

/* Record I of N: two sources, a directory every 100 entries, varied owners and times. */
static void add_record(IndexWriter *w, unsigned i, unsigned n) {
        char path[256];
        struct stat st = {
                .st_mode = (i % 100 == 0 ? S_IFDIR | 0755 : S_IFREG | 0644),
                .st_uid = i % 3 == 0 ? 0 : 1000, .st_gid = 1000 + i % 7,
                .st_size = 40 + i % 80, .st_ino = 1000000 + i,
                .st_mtim = { 1700000000 + i, i * 7919 % 1000000000 },
                .st_ctim = { 1700000000 + i + i % 2, i * 104729 % 1000000000 },
        };
        snprintf(path, sizeof path, "/srv/d%03u/f%06u", i / 1000, i);
        IndexRecord rec;
        index_record_from_stat(&rec, path, i < n / 2 ? 0 : 1, &st);
        ASSERT(index_writer_add(w, &rec) == 0);
}

static void test_round_trip(void) {
        IndexHeader h = header();
        IndexWriter *w = NULL;
        char path[256];
        const unsigned N = 10000;

        ASSERT(index_writer_open(dir_fd, "idx", &h, &w) == 0);
        /* nothing visible before the commit */
        ASSERT(faccessat(dir_fd, "idx", F_OK, 0) < 0 && errno == ENOENT);
        for (unsigned i = 0; i < N; i++) {
                add_record(w, i, N);
        }
        /* out of order: refused, and the index is spoilt */
        IndexRecord bad;
        index_record_from_stat(&bad, "/srv/a", 1, &(struct stat) {});
        ASSERT(index_writer_add(w, &bad) == -EINVAL);
        index_writer_free(w);
        ASSERT(faccessat(dir_fd, "idx", F_OK, 0) < 0);

        ASSERT(index_writer_open(dir_fd, "idx", &h, &w) == 0);
        for (unsigned i = 0; i < N; i++) {
                add_record(w, i, N);
        }
        ASSERT(index_writer_records(w) == N);
        ASSERT(index_writer_commit(w) == 0);
        index_writer_free(w);
        index_header_done(&h);

        struct stat st;
        ASSERT(fstatat(dir_fd, "idx", &st, 0) == 0);
        ASSERT((st.st_mode & 07777) == 0600);
        printf("# index: %.1f bytes a file\n", (double) st.st_size / N);
        ASSERT(st.st_size < 40 * (off_t) N);

        IndexReader *r = NULL;
        char *error = NULL;
        ASSERT(index_reader_open(dir_fd, "idx", &r, &h, &error) == 0);
        ASSERT(strcmp(h.schedule, "web") == 0 && strcmp(h.fingerprint, "abc") == 0);
        ASSERT(h.walk_start_usec == 1700000123);
        ASSERT(strv_length(h.chain) == 2 && strcmp(h.chain[1], "web-20240102T000000Z.incr.tar.gz") == 0);
        for (unsigned i = 0; i < N; i++) {
                IndexRecord rec;
                ASSERT(index_reader_next(r, &rec) == 1);
                snprintf(path, sizeof path, "/srv/d%03u/f%06u", i / 1000, i);
                ASSERT(strcmp(rec.path, path) == 0);
                ASSERT(rec.source == (i < N / 2 ? 0u : 1u));
                ASSERT(rec.mode == (i % 100 == 0 ? S_IFDIR | 0755u : S_IFREG | 0644u));
                ASSERT(rec.uid == (i % 3 == 0 ? 0u : 1000u) && rec.gid == 1000 + i % 7);
                ASSERT(rec.size == (i % 100 == 0 ? 0 : 40 + i % 80) && rec.ino == 1000000 + i);
                ASSERT(rec.mtime_sec == 1700000000 + i && rec.mtime_nsec == i * 7919 % 1000000000);
                ASSERT(rec.ctime_sec == 1700000000 + i + i % 2 && rec.ctime_nsec == i * 104729 % 1000000000);
        }
        IndexRecord rec;
        ASSERT(index_reader_next(r, &rec) == 0);
        ASSERT(index_reader_next(r, &rec) == 0);
        ASSERT(index_reader_records(r) == N);
        index_reader_free(r);
        index_header_done(&h);
}

static void expect_damaged(const char *what) {
        IndexReader *r = NULL;
        IndexHeader h = {};
        char *error = NULL;
        int k = index_reader_open(dir_fd, "idx", &r, &h, &error);
        if (k != -EBADMSG) {
                fprintf(stderr, "%s: index_reader_open() = %d, not -EBADMSG\n", what, k);
                abort();
        }
        ASSERT(error);
        if (strcmp(what, "flipped byte") != 0)
                printf("# %s: %s\n", what, error);
        free(error);
}

static void test_damage(void) {
        struct stat st;
        ASSERT(fstatat(dir_fd, "idx", &st, 0) == 0);
        int fd = openat(dir_fd, "idx", O_RDWR);
        ASSERT(fd >= 0);
        uint8_t b, orig;

        /* every single flipped byte, everywhere in a sample of offsets */
        for (off_t off = 0; off < st.st_size; off += st.st_size / 97 + 1) {
                ASSERT(pread(fd, &orig, 1, off) == 1);
                b = orig ^ 0x10;
                ASSERT(pwrite(fd, &b, 1, off) == 1);
                expect_damaged("flipped byte");
                ASSERT(pwrite(fd, &orig, 1, off) == 1);
        }
        ASSERT(ftruncate(fd, st.st_size - 1) == 0);
        expect_damaged("truncated by a byte");
        ASSERT(ftruncate(fd, st.st_size / 2) == 0);
        expect_damaged("truncated by half");
        ASSERT(ftruncate(fd, 0) == 0);
        expect_damaged("empty");
        close(fd);

        IndexReader *r = NULL;
        IndexHeader h = {};
        char *error = NULL;
        ASSERT(unlinkat(dir_fd, "idx", 0) == 0);
        ASSERT(index_reader_open(dir_fd, "idx", &r, &h, &error) == -ENOENT);
        ASSERT(mkdirat(dir_fd, "idx", 0700) == 0);
        ASSERT(index_reader_open(dir_fd, "idx", &r, &h, &error) == -EBADMSG);
        free(error);
        ASSERT(unlinkat(dir_fd, "idx", AT_REMOVEDIR) == 0);
}

int main(void) {
        ASSERT(mkdtemp(dir));
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY);
        ASSERT(dir_fd >= 0);
        test_compare();
        test_fts_order();
        test_round_trip();
        test_damage();
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ASSERT(system(cmd) == 0);
        return 0;
}
