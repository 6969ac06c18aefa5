/* SPDX-License-Identifier: MIT */
/* The read-ahead helper against real files: what it reads, and everything
 * it must leave to the writer (fallback) or report (error). */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "prefetch.h"
#include "test.h"

static char dir[] = "/var/tmp/test-prefetch-XXXXXX";

static void put(int dir_fd, const char *name, const char *data, size_t len) {
        int fd = openat(dir_fd, name, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
        ASSERT(fd >= 0);
        ASSERT(write(fd, data, len) == (ssize_t) len);
        close(fd);
}

int main(void) {
        ASSERT(mkdtemp(dir));
        int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT(dir_fd >= 0);

        static char big[PREFETCH_FILE_MAX + 1];
        memset(big, 'b', sizeof big);
        put(dir_fd, "small", "hello\n", 6);
        put(dir_fd, "empty", "", 0);
        put(dir_fd, "limit", big, PREFETCH_FILE_MAX);
        put(dir_fd, "big", big, sizeof big);
        put(dir_fd, "attr", "x", 1);
        /* user attributes need a file system that has them (not every tmpfs) */
        int attr_fd = openat(dir_fd, "attr", O_RDONLY | O_CLOEXEC);
        ASSERT(attr_fd >= 0);
        bool have_xattr = fsetxattr(attr_fd, "user.t", "1", 1, 0) == 0;
        close(attr_fd);
        int hole_fd = openat(dir_fd, "holes", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        ASSERT(hole_fd >= 0 && ftruncate(hole_fd, PREFETCH_FILE_MAX) == 0);
        close(hole_fd);
        ASSERT(symlinkat("small", dir_fd, "link") == 0);
        ASSERT(mkfifoat(dir_fd, "fifo", 0600) == 0);
        put(dir_fd, "linked", "y", 1);
        ASSERT(linkat(dir_fd, "linked", dir_fd, "second-name", 0) == 0);

        Prefetch *p = NULL;
        ASSERT(prefetch_new(&p) == 0);
        const char *names[] = { "small", "empty", "limit", "big", "attr", "link", "fifo", "missing", "holes", "second-name" };
        const size_t n = sizeof names / sizeof *names;
        PrefetchChunk *c = NULL, *second = NULL;
        ASSERT(prefetch_submit(p, dir_fd, names, n, &c) == 0);
        ASSERT(prefetch_submit(p, dir_fd, names, 1, &second) == 0);

        const PrefetchedFile *f = prefetch_get(c, 0);
        ASSERT(f->error == 0 && !f->fallback);
        ASSERT(S_ISREG(f->st.st_mode) && f->st.st_size == 6);
        ASSERT(f->content.len == 6 && memcmp(f->content.data, "hello\n", 6) == 0);
        ASSERT(f->content.read_error == 0 && f->content.after.st_size == 6);

        f = prefetch_get(c, 1);         /* empty, on a disk file system: read, nothing in it */
        ASSERT(f->error == 0 && !f->fallback && f->content.len == 0);

        f = prefetch_get(c, 2);         /* exactly the limit: read */
        ASSERT(f->error == 0 && !f->fallback && f->content.len == PREFETCH_FILE_MAX);
        ASSERT(memcmp(f->content.data, big, PREFETCH_FILE_MAX) == 0);

        f = prefetch_get(c, 3);         /* a byte over: the writer reads it */
        ASSERT(f->error == 0 && f->fallback);

        f = prefetch_get(c, 4);         /* attributes (and so maybe an ACL): libarchive reads them */
        ASSERT(f->error == 0 && f->fallback == have_xattr);

        f = prefetch_get(c, 5);         /* never followed */
        ASSERT(f->error == -ELOOP);

        f = prefetch_get(c, 6);         /* opened without blocking, then left alone */
        ASSERT(f->error == 0 && f->fallback && S_ISFIFO(f->st.st_mode));

        f = prefetch_get(c, 7);
        ASSERT(f->error == -ENOENT);

        f = prefetch_get(c, 8);         /* all hole: the writer maps it */
        ASSERT(f->error == 0 && f->fallback);

        f = prefetch_get(c, 9);         /* one of two names: maybe a link without data */
        ASSERT(f->error == 0 && f->fallback && f->st.st_nlink == 2);

        /* the earlier results stay where they were */
        ASSERT(memcmp(prefetch_get(c, 0)->content.data, "hello\n", 6) == 0);
        ASSERT(memcmp(prefetch_get(second, 0)->content.data, "hello\n", 6) == 0);
        prefetch_release(c);
        prefetch_release(second);

        /* released unread, and straight after submitting: waits, frees */
        ASSERT(prefetch_submit(p, dir_fd, names, n, &c) == 0);
        prefetch_release(c);
        prefetch_release(NULL);
        prefetch_free(p);

        const char *all[] = { "small", "empty", "limit", "big", "attr", "link", "fifo", "holes", "linked", "second-name" };
        for (size_t i = 0; i < sizeof all / sizeof *all; i++)
                ASSERT(unlinkat(dir_fd, all[i], 0) == 0);
        close(dir_fd);
        ASSERT(rmdir(dir) == 0);
        puts("ok");
        return 0;
}
