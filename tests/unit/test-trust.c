/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <sys/stat.h>

#include "trust.h"
#include "test.h"

static char dir[] = "/tmp/test-trust.XXXXXX";

static char *at(const char *name) {
        static char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        return path;
}

static void expect_refused(const char *name, uid_t owner, int code, const char *fragment) {
        char *error = NULL;
        int fd = -1;
        int r = trusted_file_open(AT_FDCWD, at(name), at(name), owner, 64, &fd, &error);
        if (r != code)
                fprintf(stderr, "%s: got %d (%s), expected %d\n", name, r, error ? error : "-", code);
        ASSERT(r == code);
        ASSERT(fd == -1);
        ASSERT_CONTAINS(error, fragment);
        free(TAKE_PTR(error));
}

static void write_file(const char *name, const char *text, mode_t mode) {
        int fd = open(at(name), O_WRONLY | O_CREAT | O_TRUNC, mode);
        ASSERT(fd >= 0);
        ASSERT(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
        ASSERT(fchmod(fd, mode) == 0);
        close(fd);
}

int main(void) {
        uid_t me = getuid();
        char *error = NULL;
        int fd = -1;

        ASSERT(mkdtemp(dir));
        ASSERT(chmod(dir, 0755) == 0);

        write_file("good.conf", "[A]\n", 0644);
        ASSERT(trusted_file_open(AT_FDCWD, at("good.conf"), "good.conf", me, 64, &fd, &error) == 0);
        ASSERT(fd >= 0);
        ASSERT(!error);
        /* O_NONBLOCK was only for the open */
        char buf[8];
        ASSERT(read(fd, buf, sizeof buf) == 4);
        close(fd);
        fd = -1;

        /* relative to a directory descriptor, as schedule-dir.c opens them */
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        ASSERT(dfd >= 0);
        ASSERT(trusted_file_open(dfd, "good.conf", at("good.conf"), me, 64, &fd, NULL) == 0);
        close(fd);
        fd = -1;
        close(dfd);

        write_file("world.conf", "[A]\n", 0666);
        expect_refused("world.conf", me, -EPERM, "the file is group- or world-writable, refusing it (fix: chmod go-w");
        write_file("group.conf", "[A]\n", 0664);
        expect_refused("group.conf", me, -EPERM, "group- or world-writable");
        expect_refused("good.conf", me + 1, -EPERM, "is owned by uid");
        expect_refused("good.conf", me + 1, -EPERM, "(fix: chown");

        write_file("big.conf", "0123456789012345678901234567890123456789012345678901234567890123456789\n", 0644);
        expect_refused("big.conf", me, -EFBIG, "larger than");

        /* a FIFO is refused without waiting for a writer */
        ASSERT(mkfifo(at("fifo.conf"), 0644) == 0);
        expect_refused("fifo.conf", me, -EBADFD, "is a FIFO");

        ASSERT(symlink("good.conf", at("link.conf")) == 0);
        expect_refused("link.conf", me, -ELOOP, "symbolic link");

        ASSERT(mkdir(at("dir.conf"), 0755) == 0);
        expect_refused("dir.conf", me, -EISDIR, "a directory");

        expect_refused("missing.conf", me, -ENOENT, "cannot open");

        /* directories */
        ASSERT(trusted_dir_check(dir, me, &error) == 0);
        ASSERT(!error);
        ASSERT(trusted_dir_check(at("missing"), me, &error) == -ENOENT);
        ASSERT(!error);
        ASSERT(trusted_dir_check(dir, me + 1, &error) == -EPERM);
        ASSERT_CONTAINS(error, "the directory is owned by uid");
        free(TAKE_PTR(error));
        error = NULL;
        ASSERT(chmod(at("dir.conf"), 0777) == 0);
        ASSERT(trusted_dir_check(at("dir.conf"), me, &error) == -EPERM);
        ASSERT_CONTAINS(error, "the directory is group- or world-writable, refusing it (fix: chmod go-w");
        free(TAKE_PTR(error));
        error = NULL;
        /* sticky or not: a directory others may write is not trusted */
        ASSERT(chmod(at("dir.conf"), 01777) == 0);
        ASSERT(trusted_dir_check(at("dir.conf"), me, NULL) == -EPERM);
        ASSERT(trusted_dir_check(at("good.conf"), me, &error) == -ENOTDIR);
        free(TAKE_PTR(error));

        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ASSERT(system(cmd) == 0);
        return 0;
}
