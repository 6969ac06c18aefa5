/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "fileio.h"
#include "test.h"

static size_t count_entries(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;
        ASSERT(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

int main(void) {
        char dir[] = "/tmp/test-fileio.XXXXXX", path[512], *text = NULL;
        struct stat st;
        ASSERT(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/f.conf", dir);

        ASSERT(write_file_atomic(path, "one\n", 0644) == 0);
        ASSERT(write_file_atomic(path, "two\n", 0600) == 0);
        ASSERT(read_file_full(path, 100, &text) == 0);
        ASSERT_STREQ(text, "two\n");
        free(text);
        ASSERT(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
        ASSERT(count_entries(dir) == 1);
        ASSERT(read_file_full(path, 2, &text) == -EFBIG);

        /* a file that is not committed leaves nothing behind */
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        AtomicFile f;
        ASSERT(atomic_file_open(dfd, "new", 0600, &f) == 0);
        ASSERT(write(f.fd, "x", 1) == 1);
        atomic_file_abort(&f);
        ASSERT(count_entries(dir) == 1);

        /* no-replace commit refuses an existing name and cleans up */
        ASSERT(atomic_file_open(dfd, "f.conf", 0600, &f) == 0);
        ASSERT(atomic_file_commit(&f, false) == -EEXIST);
        ASSERT(count_entries(dir) == 1);

        ASSERT(atomic_file_open(dfd, "g", 0640, &f) == 0);
        ASSERT(write(f.fd, "g", 1) == 1);
        ASSERT(atomic_file_commit(&f, false) == 0);
        snprintf(path, sizeof path, "%s/g", dir);
        ASSERT(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640 && st.st_size == 1);
        close(dfd);

        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ASSERT(system(cmd) == 0);
        puts("ok");
        return 0;
}
