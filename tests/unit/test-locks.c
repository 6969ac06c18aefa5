/* SPDX-License-Identifier: MIT */
/* LockFile= against locks held by real flock(1) processes. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "format-util.h"
#include "locks.h"
#include "test.h"

extern char **environ;

static char dir[] = "/tmp/test-locks-XXXXXX";
static char lock_path[64];

/* flock(1) holding LOCK_PATH (exclusive or -s) for SECONDS; returns once it holds it. */
static pid_t hold(const char *mode, const char *seconds) {
        /* -o: the lock stays with flock(1) itself; its group is killed in reap() */
        char *argv[] = { (char *) "flock", (char *) "-o", (char *) mode, lock_path, (char *) "sleep", (char *) seconds, NULL };
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        pid_t pid;
        posix_spawn_file_actions_init(&fa);
        for (int fd = 0; fd < 3; fd++)  /* not the test runner's pipes */
                posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", O_RDWR, 0);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setpgroup(&attr, 0);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
        ASSERT(posix_spawnp(&pid, "flock", &fa, &attr, argv, environ) == 0);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        /* held once a non-blocking attempt of ours fails (a loaded machine
         * may take seconds to start flock(1): the bound is generous) */
        for (int i = 0; i < 6000; i++) {
                int fd = open(lock_path, O_RDONLY | O_CLOEXEC);
                ASSERT(fd >= 0);
                int busy = flock(fd, LOCK_EX | LOCK_NB) < 0;
                close(fd);
                if (busy)
                        return pid;
                usleep(10 * 1000);
        }
        ASSERT(!"flock(1) did not take the lock");
        return -1;
}

static void reap(pid_t pid) {
        kill(-pid, SIGTERM);
        waitpid(pid, NULL, 0);
}

static void test_timeout_names_holder(void) {
        ScheduleLock l = { .path = lock_path };
        LockSet set = {};
        char *error = NULL;
        pid_t holder = hold("-x", "30");

        uint64_t start = now_monotonic_usec();
        ASSERT(locks_acquire(&l, 1, 300 * 1000, &set, &error) == -ETIMEDOUT);
        uint64_t took = now_monotonic_usec() - start;
        ASSERT(took >= 300 * 1000 && took < 60 * USEC_PER_SEC);
        char expect[128];
        snprintf(expect, sizeof expect, "still locked after 0.3s (LockTimeoutSec=): pid %d (flock) holds an exclusive flock", (int) holder);
        ASSERT_CONTAINS(error, lock_path);
        ASSERT_CONTAINS(error, expect);
        ASSERT(set.n == 0);
        free(error), error = NULL;

        /* shared does not get past an exclusive holder either */
        l.shared = true;
        ASSERT(locks_acquire(&l, 1, 0, &set, &error) == -ETIMEDOUT);
        ASSERT_CONTAINS(error, ":shared: still locked");
        free(error), error = NULL;
        reap(holder);
}

static void test_shared_with_shared(void) {
        ScheduleLock l = { .path = lock_path, .shared = true };
        LockSet set = {};
        char *error = NULL;
        pid_t holder = hold("-s", "30");
        ASSERT(locks_acquire(&l, 1, 0, &set, &error) == 0);
        ASSERT(set.n == 1);
        /* ours is a real lock: an exclusive attempt fails while we hold it */
        int fd = open(lock_path, O_RDONLY | O_CLOEXEC);
        ASSERT(flock(fd, LOCK_EX | LOCK_NB) < 0);
        reap(holder);
        ASSERT(flock(fd, LOCK_EX | LOCK_NB) < 0);
        locks_release(&set);
        ASSERT(flock(fd, LOCK_EX | LOCK_NB) == 0);
        close(fd);
}

static void test_waits_for_release(void) {
        ScheduleLock l = { .path = lock_path };
        LockSet set = {};
        char *error = NULL;
        /* The holder keeps the lock until it is killed, half a second
         * after it holds it: a holder that let go by itself after a fixed
         * time could do so before hold() saw it hold the lock at all. */
        pid_t holder = hold("-x", "60");
        pid_t killer = fork();
        ASSERT(killer >= 0);
        if (killer == 0) {
                usleep(500 * 1000);
                kill(-holder, SIGTERM);
                _exit(0);
        }
        ASSERT(locks_acquire(&l, 1, 120 * USEC_PER_SEC, &set, &error) == 0);
        ASSERT(waitpid(killer, NULL, 0) == killer);
        ASSERT(set.n == 1);
        /* the waiting child is gone, the lock is ours */
        int fd = open(lock_path, O_RDONLY | O_CLOEXEC);
        ASSERT(flock(fd, LOCK_SH | LOCK_NB) < 0);
        close(fd);
        locks_release(&set);
        reap(holder);
}

static void test_missing_is_not_created(void) {
        char missing[96];
        snprintf(missing, sizeof missing, "%s/nope.lock", dir);
        ScheduleLock l[2] = { { .path = missing }, { .path = lock_path } };
        LockSet set = {};
        char *error = NULL;
        ASSERT(locks_acquire(l, 2, 0, &set, &error) == 0);
        ASSERT(set.n == 1 && strv_length(set.missing) == 1);
        ASSERT_STREQ(set.missing[0], missing);
        ASSERT(access(missing, F_OK) < 0 && errno == ENOENT);
        locks_release(&set);
        ASSERT(access(lock_path, F_OK) == 0);   /* never deleted either */
}

int main(void) {
        ASSERT(mkdtemp(dir));
        snprintf(lock_path, sizeof lock_path, "%s/service.lock", dir);
        int fd = open(lock_path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        ASSERT(fd >= 0);
        close(fd);
        test_timeout_names_holder();
        test_shared_with_shared();
        test_waits_for_release();
        test_missing_is_not_created();
        unlink(lock_path);
        rmdir(dir);
        puts("ok");
        return 0;
}
