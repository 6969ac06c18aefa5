/* SPDX-License-Identifier: MIT */
/* restore's checks of stored names, and the component walk that stands in
 * for openat2 where the kernel refuses it, against a real tree. */
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "manifest.h"
#include "restore.h"
#include "test.h"

static void test_names(void) {
        ASSERT_STREQ(restore_entry_name("./a/b"), "a/b");
        ASSERT_STREQ(restore_entry_name("././a"), "a");
        ASSERT(restore_entry_name(NULL) == NULL);

        ASSERT(restore_name_is_safe("a"));
        ASSERT(restore_name_is_safe("a/b/c"));
        ASSERT(restore_name_is_safe("a/..b/c.."));
        ASSERT(restore_name_is_safe("dir/"));
        ASSERT(!restore_name_is_safe(""));
        ASSERT(!restore_name_is_safe(NULL));
        ASSERT(!restore_name_is_safe("/etc/passwd"));
        ASSERT(!restore_name_is_safe(".."));
        ASSERT(!restore_name_is_safe("a/../../b"));
        ASSERT(!restore_name_is_safe("a//..//b"));
        ASSERT(!restore_name_is_safe("a/.."));

        char *p;
        ASSERT_STREQ(p = restore_path_argument("/etc/nginx/"), "etc/nginx"); free(p);
        ASSERT_STREQ(p = restore_path_argument(".//./etc"), "etc"); free(p);
        ASSERT_STREQ(p = restore_path_argument("/"), "."); free(p);

        char *paths[] = { (char *) "etc/nginx", (char *) "srv/a", NULL };
        ASSERT(restore_name_selected("etc/nginx", paths));
        ASSERT(restore_name_selected("etc/nginx/nginx.conf", paths));
        ASSERT(!restore_name_selected("etc/nginx2", paths));
        ASSERT(!restore_name_selected("etc", paths));
        ASSERT(restore_name_selected("anything", NULL));
        ASSERT(restore_name_selected("x", (char *[]) { (char *) ".", NULL }));
}

/* openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS), for comparison */
static int kernel_beneath(int dir, const char *path, int flags) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC | O_NOFOLLOW),
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int fd = (int) syscall(SYS_openat2, dir, path, &how, sizeof how);
        return fd < 0 ? -errno : fd;
}

static void same_file(int a, int b) {
        struct stat x, y;
        ASSERT(fstat(a, &x) == 0 && fstat(b, &y) == 0);
        ASSERT(x.st_dev == y.st_dev && x.st_ino == y.st_ino);
}

static void test_walk(void) {
        char dir[] = "/tmp/test-restore.XXXXXX";
        ASSERT(mkdtemp(dir));
        int t = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        ASSERT(t >= 0);
        ASSERT(mkdirat(t, "d", 0755) == 0);
        ASSERT(close(openat(t, "d/f", O_CREAT | O_WRONLY | O_CLOEXEC, 0644)) == 0);
        ASSERT(symlinkat("..", t, "d/up") == 0);
        ASSERT(symlinkat("d", t, "dl") == 0);
        ASSERT(symlinkat("/etc", t, "abs") == 0);
        ASSERT(symlinkat("f", t, "d/fl") == 0);

        static const char *const good[] = { "d", "d/f", "d/", "./d//f", "d/fl" };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                int w = restore_open_beneath_walk(t, good[i], O_PATH);
                int k = kernel_beneath(t, good[i], O_PATH);
                ASSERT(w >= 0 && k >= 0);
                same_file(w, k);
                close(w);
                close(k);
        }
        /* through a symlink, out, absolute, "..", a file as a directory, nothing */
        static const struct { const char *path; int error; } bad[] = {
                { "dl/f", -ELOOP }, { "d/up/d", -ELOOP }, { "abs/passwd", -ELOOP }, { "/etc", -EXDEV },
                { "d/../d", -EXDEV }, { "d/f/x", -ENOTDIR }, { "d/f/", -ENOTDIR }, { "", -ENOENT }, { "nope", -ENOENT },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int w = restore_open_beneath_walk(t, bad[i].path, O_PATH);
                if (w != bad[i].error)
                        fprintf(stderr, "%s: %d, expected %d\n", bad[i].path, w, bad[i].error);
                ASSERT(w == bad[i].error);
        }
        /* a final symlink: refused without O_PATH, itself with it (as openat2) */
        ASSERT(restore_open_beneath_walk(t, "d/fl", O_RDONLY) == -ELOOP);
        ASSERT(restore_open_beneath(t, "d/fl", O_RDONLY) == -ELOOP);
        ASSERT(restore_open_beneath(t, "dl/f", O_PATH) == -ELOOP);

        (void) unlinkat(t, "d/fl", 0);
        (void) unlinkat(t, "d/up", 0);
        (void) unlinkat(t, "d/f", 0);
        (void) unlinkat(t, "d", AT_REMOVEDIR);
        (void) unlinkat(t, "dl", 0);
        (void) unlinkat(t, "abs", 0);
        close(t);
        ASSERT(rmdir(dir) == 0);
}

int main(void) {
        test_names();
        test_walk();
        return 0;
}
