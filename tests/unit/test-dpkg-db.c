/* SPDX-License-Identifier: MIT */
/* The dpkg database of this very machine (no fake), plus small broken
 * databases for the errors. Skips (exit 77) where there is no dpkg. */
#include <fcntl.h>
#include <sys/stat.h>

#include "dpkg-db.h"
#include "format-util.h"
#include "test.h"

static DpkgClass classify(const DpkgDb *db, const char *path) {
        struct stat st;
        bool dir = lstat(path, &st) >= 0 && S_ISDIR(st.st_mode);
        return dpkg_db_classify(db, path, strlen(path), dir);
}

/* What `dpkg-query -S` says about PATH: true if some package lists it,
 * under its own name or (merged /usr) without the leading /usr. */
static bool dpkg_query_owns(const char *path) {
        char cmd[2 * PATH_MAX + 128];
        const char *unmerged = strncmp(path, "/usr/", 5) == 0 ? path + 4 : path;
        snprintf(cmd, sizeof cmd, "dpkg-query -S '%s' '%s' 2>/dev/null | grep -q -v '^diversion by'", path, unmerged);
        return system(cmd) == 0;
}

static void write_file(const char *dir, const char *name, const char *text) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = fopen(path, "we");
        ASSERT(f);
        fputs(text, f);
        ASSERT(fclose(f) == 0);
}

/* A tiny admindir with STATUS and one package "p" whose list is LIST (NULL: none). */
static int load_small(const char *dir, const char *status, const char *list, char **ret_error) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s/info'", dir, dir);
        ASSERT(system(cmd) == 0);
        write_file(dir, "status", status);
        if (list)
                write_file(dir, "info/p.list", list);
        DpkgDb *db = NULL;
        int r = dpkg_db_load(dir, "/nonexistent", 0, &db, ret_error);
        dpkg_db_free(db);
        return r;
}

static void test_broken(void) {
        char dir[] = "/tmp/test-dpkg-db.XXXXXX", admin[600];
        char *error = NULL;
        ASSERT(mkdtemp(dir));
        snprintf(admin, sizeof admin, "%s/admin", dir);
        const char *ok = "Package: p\nStatus: install ok installed\nArchitecture: amd64\n\n";

        ASSERT(load_small(admin, ok, "/.\n/usr\n/usr/bin/p\n", &error) == 0);
        ASSERT(!error);

        ASSERT(load_small(admin, "garbage that is no status file\n", NULL, &error) == -EBADMSG);
        ASSERT_CONTAINS(error, "status:1: not a field");
        free(error), error = NULL;

        ASSERT(load_small(admin, "Package: p\nStatus: install ok exploded\n\n", "/.\n", &error) == -EBADMSG);
        ASSERT_CONTAINS(error, "invalid Status");
        free(error), error = NULL;

        ASSERT(load_small(admin, ok, NULL, &error) == -EBADMSG);
        ASSERT_CONTAINS(error, "info/p.list is missing");
        free(error), error = NULL;

        ASSERT(load_small(admin, ok, "", &error) == -EBADMSG);
        ASSERT_CONTAINS(error, "is empty");
        free(error), error = NULL;

        ASSERT(load_small(admin, ok, "usr/bin/p\n", &error) == -EBADMSG);
        ASSERT_CONTAINS(error, "info/p.list:1: not an absolute path");
        free(error), error = NULL;

        ASSERT(load_small(admin, "Package: p\nStatus: deinstall ok config-files\n\n", NULL, &error) == -EBADMSG);
        ASSERT_CONTAINS(error, "lists no installed package");
        free(error), error = NULL;

        ASSERT(load_small(admin, "", NULL, &error) == -EBADMSG);
        free(error), error = NULL;

        /* diversions come in threes */
        ASSERT(load_small(admin, ok, "/.\n", &error) == 0);
        write_file(admin, "diversions", "/usr/bin/p\n/usr/bin/p.orig\n");
        DpkgDb *db = NULL;
        ASSERT(dpkg_db_load(admin, "/nonexistent", 0, &db, &error) == -EBADMSG);
        ASSERT_CONTAINS(error, "diversions:2");
        free(error), error = NULL;

        ASSERT(dpkg_db_load("/nonexistent/dpkg", NULL, 0, &db, &error) == -ENOENT);
        ASSERT_CONTAINS(error, "/nonexistent/dpkg");
        free(error), error = NULL;
        ASSERT(dpkg_db_check_present("/nonexistent/dpkg", &error) == -ENOENT);
        ASSERT_CONTAINS(error, "no dpkg");
        free(error), error = NULL;

        /* a pending update replaces the record in status */
        ASSERT(load_small(admin, ok, "/.\n/usr/bin/p\n", &error) == 0);
        snprintf(admin + strlen(admin), sizeof admin - strlen(admin), "/updates");
        ASSERT(mkdir(admin, 0755) == 0);
        write_file(admin, "0001", "Package: p\nStatus: install ok installed\nArchitecture: amd64\n"
                   "Conffiles:\n /etc/p.conf 0123456789abcdef0123456789abcdef\n /etc/old.conf newconffile obsolete\n\n");
        admin[strlen(admin) - strlen("/updates")] = 0;
        ASSERT(dpkg_db_load(admin, "/nonexistent", 0, &db, &error) == 0);
        ASSERT(dpkg_db_classify(db, "/etc/p.conf", 11, false) == DPKG_CONFFILE);
        ASSERT(dpkg_db_classify(db, "/etc/old.conf", 13, false) == DPKG_CONFFILE);
        ASSERT(dpkg_db_classify(db, "/usr/bin/p", 10, false) == DPKG_PACKAGED);
        db = dpkg_db_free(db);

        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ASSERT(system(cmd) == 0);
}

static void test_path_filters(void) {
        char dir[] = "/tmp/test-dpkg-db.XXXXXX", sub[600];
        char *error = NULL;
        DpkgDb *db = NULL;
        ASSERT(mkdtemp(dir));
        snprintf(sub, sizeof sub, "%s/dpkg.cfg.d", dir);
        ASSERT(mkdir(sub, 0755) == 0);
        write_file(sub, "excludes", "# docker-style\npath-exclude=/usr/share/doc/*\npath-include /usr/share/doc/*/copyright\n");
        write_file(sub, "ignored.dpkg-old", "path-exclude=/usr/bin/*\n");

        ASSERT(dpkg_db_load(NULL, dir, 0, &db, &error) == 0);
        DpkgDbStats st;
        dpkg_db_stats(db, &st);
        ASSERT(st.path_filters == 2);
        /* excluded: dpkg never put it there, nor will it put it back */
        ASSERT(dpkg_query_owns("/usr/share/doc/bash/NEWS.gz"));
        ASSERT(dpkg_db_classify(db, "/usr/share/doc/bash/NEWS.gz", 27, false) == DPKG_UNOWNED);
        ASSERT(dpkg_db_classify(db, "/usr/share/doc/bash/copyright", 29, false) == DPKG_PACKAGED);
        ASSERT(dpkg_db_classify(db, "/usr/share/doc/bash", 19, true) == DPKG_PACKAGED);
        ASSERT(classify(db, "/usr/bin/ls") == DPKG_PACKAGED);
        dpkg_db_free(db);

        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ASSERT(system(cmd) == 0);
}

int main(void) {
        char *error = NULL;
        DpkgDb *db = NULL;

        if (access(DPKG_ADMINDIR "/status", R_OK) < 0) {
                puts("skip: no dpkg database");
                return 77;
        }
        test_broken();

        uint64_t t0 = now_monotonic_usec();
        int r = dpkg_db_load(NULL, NULL, 0, &db, &error);
        if (r < 0)
                fprintf(stderr, "%s\n", error);
        ASSERT(r == 0);
        DpkgDbStats st;
        dpkg_db_stats(db, &st);
        printf("# %u packages, %zu paths, %zu conffiles, %zu diversions, %zu alternatives links, loaded in %.3f s\n",
               st.packages, st.paths, st.conffiles, st.diversions, st.alternatives,
               (double) (now_monotonic_usec() - t0) / 1e6);
        ASSERT(st.packages > 50);
        ASSERT(st.paths > 5000);

        /* merged /usr: dpkg says /bin/ls, the walk sees /usr/bin/ls */
        ASSERT(classify(db, "/usr/bin/ls") == DPKG_PACKAGED);
        ASSERT(classify(db, "/usr/lib/x86_64-linux-gnu/libc.so.6") == DPKG_PACKAGED ||
               access("/usr/lib/x86_64-linux-gnu/libc.so.6", F_OK) < 0);
        ASSERT(classify(db, "/usr/bin/dpkg") == DPKG_PACKAGED);
        ASSERT(classify(db, "/usr/bin") == DPKG_PACKAGED);
        ASSERT(classify(db, "/") == DPKG_PACKAGED);
        struct stat lst;
        if (lstat("/bin", &lst) >= 0 && S_ISLNK(lst.st_mode))
                ASSERT(classify(db, "/bin") == DPKG_PACKAGED);

        ASSERT(classify(db, "/etc/passwd") == DPKG_UNOWNED);
        ASSERT(classify(db, "/usr/bin/alexandria-no-such-file") == DPKG_UNOWNED);
        ASSERT(classify(db, "/etc/bash.bashrc") == DPKG_CONFFILE);
        ASSERT(classify(db, "/var/lib/dpkg/status") == DPKG_MANAGED);
        ASSERT(classify(db, "/var/lib/dpkg") == DPKG_MANAGED);
        ASSERT(classify(db, "/var/lib/dpkgx") == DPKG_UNOWNED);

        /* update-alternatives' links */
        if (access("/var/lib/dpkg/alternatives/editor", F_OK) >= 0) {
                ASSERT(classify(db, "/usr/bin/editor") == DPKG_MANAGED);
                ASSERT(classify(db, "/etc/alternatives/editor") == DPKG_MANAGED);
        }
        /* Debian's own diversion: dash ships /bin/sh and diverts the one of bash */
        if (system("dpkg-divert --list /bin/sh | grep -q 'by dash'") == 0) {
                ASSERT(classify(db, "/usr/bin/sh") == DPKG_PACKAGED);
                ASSERT(classify(db, "/usr/bin/sh.distrib") == DPKG_MANAGED ||
                       access("/usr/bin/sh.distrib", F_OK) < 0);
        }

        /* dpkg-query agrees on a sample of what the walk meets in /usr/bin */
        DIR *d = opendir("/usr/bin");
        struct dirent *de;
        unsigned checked = 0;
        ASSERT(d);
        while ((de = readdir(d)) && checked < 40) {
                char path[PATH_MAX];
                if (de->d_name[0] == '.' || de->d_name[0] % 5 != 0)
                        continue;
                snprintf(path, sizeof path, "/usr/bin/%s", de->d_name);
                DpkgClass c = classify(db, path);
                if (c == DPKG_MANAGED)
                        continue;
                bool owned = dpkg_query_owns(path);
                if (owned != (c != DPKG_UNOWNED))
                        fprintf(stderr, "%s: dpkg-query %s, we say %s\n", path, owned ? "owns" : "does not own",
                                dpkg_class_to_string(c));
                ASSERT(owned == (c != DPKG_UNOWNED));
                checked++;
        }
        closedir(d);
        ASSERT(checked > 10);
        dpkg_db_free(db);

        /* VerifyPackaged=yes: the md5sums */
        ASSERT(dpkg_db_load(NULL, NULL, DPKG_LOAD_MD5SUMS, &db, &error) == 0);
        const uint8_t *md5 = dpkg_db_md5(db, "/usr/bin/dpkg", 13);
        ASSERT(md5);
        FILE *p = popen("md5sum /usr/bin/dpkg", "r");
        char line[128], hex[33];
        ASSERT(p && fgets(line, sizeof line, p));
        pclose(p);
        for (int i = 0; i < 16; i++)
                snprintf(hex + 2 * i, 3, "%02x", md5[i]);
        ASSERT(strncmp(line, hex, 32) == 0);
        ASSERT(!dpkg_db_md5(db, "/etc/passwd", 11));
        dpkg_db_free(db);

        test_path_filters();
        puts("ok");
        return 0;
}
