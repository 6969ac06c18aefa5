/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "fileio.h"
#include "format-util.h"
#include "package-state.h"

/* dpkg and apt answer in well under a second; a command that hangs (a lock
 * held by a stuck apt?) must not hang the backup. */
#define COMMAND_TIMEOUT_USEC (120 * USEC_PER_SEC)

extern char **environ;

typedef struct StateEntry {
        const char *name;
        const char *argv[2][6];         /* run one after the other into the same entry */
        bool optional;                  /* a missing program is no problem */
} StateEntry;

static const StateEntry entries[] = {
        { "dpkg-selections", { { "dpkg", "--get-selections" } } },
        { "apt-manual", { { "apt-mark", "showmanual" } } },
        { "apt-auto", { { "apt-mark", "showauto" } } },
        { "packages", { { "dpkg-query", "--show", "--showformat=${binary:Package}\\t${Version}\\t${db:Status-Abbrev}\\n" } } },
        { "dpkg-architectures", { { "dpkg", "--print-architecture" }, { "dpkg", "--print-foreign-architectures" } } },
        { "alternatives", { { "update-alternatives", "--get-selections" } } },
        { "debconf-selections", { { "debconf-get-selections" } }, .optional = true },
};

static void warnf(const GeneratedEntrySink *sink, const char *format, ...) _printf_(2, 3);
static void warnf(const GeneratedEntrySink *sink, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, format);
        if (vasprintf(&msg, format, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (msg && sink->warning)
                sink->warning(msg, sink->userdata);
}

/* apt verifies signed indexes through files in $TMPDIR, and the service's
 * /tmp is read-only (ProtectSystem=strict; no PrivateTmp=, which would hide
 * /tmp from the backup). A directory of our own, in the first place that
 * takes one: /dev/shm is the service's own (PrivateDevices=yes). */
static char *make_tmpdir(void) {
        static const char *const bases[] = { "/tmp", "/dev/shm", "/var/tmp" };
        for (size_t i = 0; i < ELEMENTSOF(bases); i++) {
                char *t = NULL;
                if (asprintf(&t, "%s/alexandria-state.XXXXXX", bases[i]) < 0)
                        return NULL;
                if (mkdtemp(t))
                        return t;
                free(t);
        }
        return NULL;
}

static void remove_tmpdir(char *dir) {
        _cleanup_closedir_ DIR *d = dir ? opendir(dir) : NULL;
        struct dirent *de;
        if (!d)
                return;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        (void) rmdir(dir);
}

/* Runs ARGV with stdout appended to OUT_FD, stderr to ERR_FD, in the C
 * locale (stable output), with TMPDIR (if not NULL). Returns the exit
 * status (128+signal, 124 on timeout), or a negative errno if it could not
 * be started. */
static int run_into(const char *const argv[], int out_fd, int err_fd, const char *tmpdir) {
        _cleanup_free_ char *tmp = NULL;
        size_t n = 0;
        while (environ[n])
                n++;
        _cleanup_free_ char **env = calloc(n + 3, sizeof(char *));
        if (!env || (tmpdir && asprintf(&tmp, "TMPDIR=%s", tmpdir) < 0))
                return -ENOMEM;
        size_t k = 0;
        env[k++] = (char *) "LC_ALL=C";
        if (tmp)
                env[k++] = tmp;
        for (size_t i = 0; i < n; i++)
                if (!startswith(environ[i], "LC_ALL=") && !(tmp && startswith(environ[i], "TMPDIR=")))
                        env[k++] = environ[i];

        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, err_fd, STDERR_FILENO);
        pid_t pid;
        int r = -posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *) argv, env);
        posix_spawn_file_actions_destroy(&fa);
        if (r < 0)
                return r;

        uint64_t deadline = now_monotonic_usec() + COMMAND_TIMEOUT_USEC;
        int status;
        for (;;) {
                pid_t p = waitpid(pid, &status, WNOHANG);
                if (p == pid)
                        break;
                if (p < 0 && errno != EINTR)
                        return negative_errno();
                if (now_monotonic_usec() > deadline) {
                        (void) kill(pid, SIGKILL);
                        (void) waitpid(pid, &status, 0);
                        return 124;
                }
                struct timespec ts = { .tv_nsec = 5 * 1000 * 1000 };
                (void) nanosleep(&ts, NULL);
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The first line of what a command said on stderr, for a warning. */
static void first_line(int fd, char *buf, size_t size) {
        ssize_t k = pread(fd, buf, size - 1, 0);
        buf[k > 0 ? k : 0] = 0;
        buf[strcspn(buf, "\n")] = 0;
}

static int produce(const GeneratedEntrySink *sink, const StateEntry *e, const char *tmpdir) {
        _cleanup_close_ int out = memfd_create(e->name, MFD_CLOEXEC), err = memfd_create("stderr", MFD_CLOEXEC);
        _cleanup_free_ char *name = NULL;
        struct stat st;

        if (out < 0 || err < 0) {
                warnf(sink, "Cannot store %s/%s (package state): memfd_create: %m", PACKAGE_STATE_DIR, e->name);
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(e->argv) && e->argv[i][0]; i++) {
                const char *const *argv = e->argv[i];
                int r = run_into(argv, out, err, tmpdir);
                if (r == -ENOENT && e->optional)
                        return 0;
                if (r == 0)
                        continue;
                char said[256];
                first_line(err, said, sizeof said);
                if (r < 0)
                        warnf(sink, "Package state %s/%s not stored: cannot run %s: %s",
                              PACKAGE_STATE_DIR, e->name, argv[0], strerror(-r));
                else
                        warnf(sink, "Package state %s/%s not stored: %s %s exited with status %d%s%s",
                              PACKAGE_STATE_DIR, e->name, argv[0], strempty(argv[1]), r, said[0] ? ": " : "", said);
                return 0;
        }
        if (fstat(out, &st) < 0 || lseek(out, 0, SEEK_SET) < 0) {
                warnf(sink, "Package state %s/%s not stored: %m", PACKAGE_STATE_DIR, e->name);
                return 0;
        }
        if (asprintf(&name, "%s/%s", PACKAGE_STATE_DIR, e->name) < 0)
                return -ENOMEM;
        return sink->entry(name, out, (uint64_t) st.st_size, sink->userdata);
}

static int produce_readme(const GeneratedEntrySink *sink) {
        _cleanup_free_ char *text = NULL, *pretty = NULL;
        char host[256] = "this machine", when[FORMAT_TIMESTAMP_MAX];
        size_t size = 0;

        (void) gethostname(host, sizeof host - 1);
        _cleanup_fclose_ FILE *os = fopen("/etc/os-release", "re");
        char line[512];
        while (os && fgets(line, sizeof line, os)) {
                const char *v = startswith(line, "PRETTY_NAME=");
                if (!v)
                        continue;
                size_t n = strcspn(v, "\n");
                if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
                        v++, n -= 2;
                pretty = strndup(v, n);
        }

        _cleanup_fclose_ FILE *f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f,
                "Package state of %s (%s), %s\n"
                "\n"
                "Files that the installed packages ship, unchanged, are not in this archive\n"
                "(SkipPackaged=yes): installing the same packages gives them back. Everything\n"
                "else is. To rebuild the machine (in full: alexandria-rebuild(7)):\n"
                "\n"
                "1. Install %s\n"
                "   for the same architectures (dpkg-architectures: the native one, then\n"
                "   the foreign ones for dpkg --add-architecture), and Alexandria.\n"
                "2. Restore the whole archive aside:\n"
                "     alexandria-ctl restore NAME ARCHIVE --to /root/rebuild\n"
                "3. Its package sources, answers, selections, and the packages:\n"
                "     cp -a /root/rebuild/etc/apt/. /etc/apt/ && apt-get update\n"
                "     cd /root/rebuild/%s\n"
                "     debconf-set-selections < debconf-selections     (if it is here)\n"
                "     apt-cache dumpavail | dpkg --merge-avail\n"
                "     dpkg --clear-selections && dpkg --set-selections < dpkg-selections\n"
                "     apt-get dselect-upgrade\n"
                "     xargs -r apt-mark auto < apt-auto; xargs -r apt-mark manual < apt-manual\n"
                "     update-alternatives --set-selections < alternatives\n"
                "   and the local diversions, from the old dpkg database:\n"
                "     paste - - - < /root/rebuild/var/lib/dpkg/diversions | awk -F'\\t' '$3 == \":\"' |\n"
                "       while IFS=$'\\t' read -r from to _; do dpkg-divert --local --rename --divert \"$to\" --add \"$from\"; done\n"
                "4. The rest, over the new system: every top directory of the archive but\n"
                "   boot and var/lib/dpkg (the new system's are the right ones now):\n"
                "     cd /root/rebuild\n"
                "     paths=$( { ls -A | grep -vx -e .alexandria -e boot -e var\n"
                "                ls -A var | grep -vx lib | sed 's|^|var/|'\n"
                "                ls -A var/lib | grep -vx dpkg | sed 's|^|var/lib/|'; } )\n"
                "     alexandria-ctl restore NAME ARCHIVE --to / --overwrite $paths\n"
                "   (first compare etc/fstab, etc/crypttab and the network configuration\n"
                "   with the new machine's).\n"
                "\n"
                "packages lists every package with its version, for apt-get install PKG=VERSION\n"
                "where the mirror no longer has a version.\n",
                host, pretty ?: "Debian", format_timestamp(when, now_realtime_usec()),
                pretty ?: "Debian (the same release)", PACKAGE_STATE_DIR);
        if (fflush(f) != 0 || ferror(f))
                return -ENOMEM;

        _cleanup_close_ int fd = memfd_create("README", MFD_CLOEXEC);
        if (fd < 0 || loop_write(fd, text, size) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
                warnf(sink, "Cannot store %s/README: %m", PACKAGE_STATE_DIR);
                return 0;
        }
        return sink->entry(PACKAGE_STATE_DIR "/README", fd, size, sink->userdata);
}

int package_state_produce(const GeneratedEntrySink *sink) {
        char *tmpdir = make_tmpdir();
        int r = produce_readme(sink);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(entries); i++)
                r = produce(sink, &entries[i], tmpdir);
        remove_tmpdir(tmpdir);
        free(tmpdir);
        return r;
}
