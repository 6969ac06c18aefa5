/* SPDX-License-Identifier: MIT */
/* restore's checks of stored names on any string: a name judged safe is
 * relative and has no ".." component; the component walk that replaces
 * openat2 opens only what openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS)
 * opens, in a scratch tree full of symlinks out. */
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "fuzz.h"
#include "restore.h"

static int tree_fd = -1;
static char dir[] = "/tmp/alexandria-fuzz-names.XXXXXX";

static void remove_tree(void) {
        static const char *const files[] = { "d/up", "d/fl", "d/g", "d/e", "d", "f", "root", "dl", "magic" };
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
                (void) unlinkat(tree_fd, files[i], strcmp(files[i], "d") == 0 || strcmp(files[i], "d/e") == 0 ? AT_REMOVEDIR : 0);
        (void) rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fuzz_assert(mkdtemp(dir));
        tree_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        fuzz_assert(tree_fd >= 0);
        fuzz_assert(mkdirat(tree_fd, "d", 0755) == 0 && mkdirat(tree_fd, "d/e", 0755) == 0);
        fuzz_assert(close(openat(tree_fd, "f", O_CREAT | O_WRONLY | O_CLOEXEC, 0644)) == 0);
        fuzz_assert(close(openat(tree_fd, "d/g", O_CREAT | O_WRONLY | O_CLOEXEC, 0644)) == 0);
        fuzz_assert(symlinkat("..", tree_fd, "d/up") == 0 && symlinkat("/", tree_fd, "root") == 0 &&
                    symlinkat("d", tree_fd, "dl") == 0 && symlinkat("f", tree_fd, "d/fl") == 0 &&
                    symlinkat("/proc/self/cwd", tree_fd, "magic") == 0);
        atexit(remove_tree);
        return 0;
}

static bool has_dotdot(const char *p) {
        for (const char *c = p; (c = strstr(c, "..")); c++)
                if ((c == p || c[-1] == '/') && (c[2] == 0 || c[2] == '/'))
                        return true;
        return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 4096)
                return 0;
        char *s = strndup((const char *) data, size);
        fuzz_assert(s);

        const char *name = restore_entry_name(s);
        if (restore_name_is_safe(name))
                fuzz_assert(name[0] != '/' && !has_dotdot(name));
        char *arg = restore_path_argument(s);
        if (arg) {
                fuzz_assert(arg[0] != '/');
                fuzz_assert(restore_name_selected(arg, (char *[]) { arg, NULL }));
                free(arg);
        }

        struct open_how how = {
                .flags = O_PATH | O_CLOEXEC | O_NOFOLLOW,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int kernel = (int) syscall(SYS_openat2, tree_fd, s, &how, sizeof how);
        int walk = restore_open_beneath_walk(tree_fd, s, O_PATH);
        if (walk >= 0) {
                /* the walk is never more permissive than the kernel */
                struct stat a, b;
                fuzz_assert(kernel >= 0);
                fuzz_assert(fstat(kernel, &a) == 0 && fstat(walk, &b) == 0);
                fuzz_assert(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
        } else if (kernel >= 0)
                /* and refuses only what restore never asks for: ".." */
                fuzz_assert(has_dotdot(s));
        if (kernel >= 0)
                close(kernel);
        if (walk >= 0)
                close(walk);
        free(s);
        return 0;
}
