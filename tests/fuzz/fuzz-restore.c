/* SPDX-License-Identifier: MIT */
/* Restore of any bytes as an archive, into a scratch target: whatever the
 * archive holds, nothing appears outside the target (a sibling directory
 * stays empty, the scratch directory holds only the two), and no temporary
 * file is left inside it. Restores run as nobody when the fuzzer is started
 * as root, so that one that escaped could not harm the machine running it. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "log.h"
#include "restore.h"

static char scratch[] = "/tmp/alexandria-fuzz-restore.XXXXXX";
static char target[sizeof scratch + 16], outside[sizeof scratch + 16];
static uid_t nobody_uid = 0;
static gid_t nobody_gid = 0;

static int open_up(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        if (flag == FTW_D || flag == FTW_DNR)
                (void) chmod(path, 0700);
        return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        if (ftw->level > 0)
                (void) remove(path);
        return 0;
}

static void empty_dir(const char *dir) {
        /* directories restored without write or search permission first */
        (void) nftw(dir, open_up, 16, FTW_PHYS);
        (void) nftw(dir, remove_one, 16, FTW_PHYS | FTW_DEPTH);
}

static size_t count_entries(const char *dir, bool count_temporaries_only) {
        DIR *d = opendir(dir);
        size_t n = 0;
        fuzz_assert(d);
        for (struct dirent *de; (de = readdir(d));) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (!count_temporaries_only || strncmp(de->d_name, ".alexandria-restore-", 20) == 0)
                        n++;
        }
        closedir(d);
        return n;
}

static void remove_scratch(void) {
        empty_dir(scratch);
        (void) rmdir(scratch);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        log_set_max_level(LOG_CRIT);
        fuzz_assert(mkdtemp(scratch));
        atexit(remove_scratch);
        snprintf(target, sizeof target, "%s/target", scratch);
        snprintf(outside, sizeof outside, "%s/outside", scratch);
        fuzz_assert(mkdir(target, 0700) == 0 && mkdir(outside, 0700) == 0);
        if (geteuid() == 0) {
                struct passwd *pw = getpwnam("nobody");
                fuzz_assert(pw);
                nobody_uid = pw->pw_uid;
                nobody_gid = pw->pw_gid;
                fuzz_assert(chown(scratch, nobody_uid, nobody_gid) == 0);
                fuzz_assert(chown(target, nobody_uid, nobody_gid) == 0);
                fuzz_assert(chown(outside, nobody_uid, nobody_gid) == 0);
                fuzz_assert(setgroups(0, NULL) == 0);
        }
        return 0;
}

/* Restores run as nobody; libFuzzer itself stays root to read and write
 * its corpus directories. */
static void become_nobody(bool on) {
        if (nobody_uid == 0)
                return;
        if (on)
                fuzz_assert(setegid(nobody_gid) == 0 && seteuid(nobody_uid) == 0);
        else
                fuzz_assert(seteuid(0) == 0 && setegid(0) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        int fd = fuzz_memfd(data, size);
        char archive[64];
        snprintf(archive, sizeof archive, "/proc/self/fd/%d", fd);

        static char *paths_some[] = { (char *) "a", (char *) "b/c", NULL };
        /* the last byte (end-of-archive padding in a tar) picks the options */
        uint8_t options = size > 0 ? data[size - 1] : 0;
        RestoreOptions o = {
                .target = target,
                .mode = RESTORE_EXTRACT,
                .overwrite = options & 1,
                .paths = options & 2 ? paths_some : NULL,
        };
        RestoreStats st;
        become_nobody(true);
        (void) restore_archive(archive, &o, &st);
        become_nobody(false);

        fuzz_assert(count_entries(outside, false) == 0);
        fuzz_assert(count_entries(scratch, false) == 2);
        fuzz_assert(count_entries(target, true) == 0);
        empty_dir(target);
        close(fd);
        return 0;
}
