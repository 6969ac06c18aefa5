/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/magic.h>
#include <openssl/evp.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include "dpkg-db.h"
#include "fileio.h"
#include "select-policy.h"

bool selection_excluded(char **patterns, const char *path, const char *source) {
        size_t n = strlen(source);
        const char *below = strncmp(path, source, n) == 0 ? path + n : path;
        while (*below == '/')
                below++;
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;

        STRV_FOREACH(p, patterns) {
                const char *subject = **p == '/' ? path : strchr(*p, '/') ? below : base;
                if (fnmatch(*p, subject, FNM_PATHNAME) == 0)
                        return true;
        }
        return false;
}

#define VERIFY_BUFFER_SIZE (128 * 1024)
#define FS_CACHE_MAX 64

static const char *const reason_names[_SELECT_REASON_MAX] = {
        [SELECT_SOURCE] = "source",
        [SELECT_UNOWNED] = "unowned",
        [SELECT_CONFFILE] = "conffile",
        [SELECT_MODIFIED] = "modified",
        [SELECT_DPKG] = "dpkg",
        [SELECT_PARENT] = "parent",
        [SKIP_PACKAGED] = "packaged",
        [SKIP_EXCLUDE] = "excluded",
        [SKIP_BUILTIN] = "built-in",
        [SKIP_FILESYSTEM] = "filesystem",
        [SKIP_DESTINATION] = "destination",
        [SKIP_SOCKET] = "socket",
};

const char *select_reason_to_string(SelectReason r) {
        return r >= 0 && r < _SELECT_REASON_MAX ? reason_names[r] : NULL;
}

/* Below a source only: a schedule that names one of these as its Source=
 * gets it. */
const SelectBuiltin select_builtin_paths[] = {
        { "/proc", "processes and kernel state" },
        { "/sys", "kernel state" },
        { "/dev", "device nodes, made at boot" },
        { "/run", "runtime state, gone at reboot" },
        { "/tmp", "temporary files" },
        { "/var/cache/apt/archives", "downloaded packages, apt fetches them again" },
        { "/var/lib/apt/lists", "package indexes, apt-get update fetches them again" },
};
const size_t select_builtin_paths_n = ELEMENTSOF(select_builtin_paths);

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#define FUSE_MAGIC      0x65735546
#define CIFS_MAGIC      0xff534d42
#define SMB2_MAGIC      0xfe534d42
#define CEPH_MAGIC      0x00c36400
#define NSFS_MAGIC_     0x6e736673
#define RPC_PIPEFS_MAGIC 0x67596969
#define CONFIGFS_MAGIC  0x62656570
#define FUSECTL_MAGIC   0x65735543
#define MQUEUE_MAGIC    0x19800202
#define ISO9660_MAGIC   0x9660
#define AFS_MAGIC_      0x5346414f
#define CODA_MAGIC      0x73757245
#define NCP_MAGIC       0x564c

/* Mount points of these types below a source are not descended. */
const SelectFsType select_skipped_fs_types[] = {
        { PROC_SUPER_MAGIC,       "proc",        "pseudo file system" },
        { SYSFS_MAGIC,            "sysfs",       "pseudo file system" },
        { TMPFS_MAGIC,            "tmpfs",       "in memory (also devtmpfs)" },
        { RAMFS_MAGIC,            "ramfs",       "in memory" },
        { DEVPTS_SUPER_MAGIC,     "devpts",      "pseudo file system" },
        { CGROUP_SUPER_MAGIC,     "cgroup",      "pseudo file system" },
        { CGROUP2_SUPER_MAGIC,    "cgroup2",     "pseudo file system" },
        { DEBUGFS_MAGIC,          "debugfs",     "pseudo file system" },
        { TRACEFS_MAGIC,          "tracefs",     "pseudo file system" },
        { SECURITYFS_MAGIC,       "securityfs",  "pseudo file system" },
        { SELINUX_MAGIC,          "selinuxfs",   "pseudo file system" },
        { SMACK_MAGIC,            "smackfs",     "pseudo file system" },
        { PSTOREFS_MAGIC,         "pstore",      "pseudo file system" },
        { BPF_FS_MAGIC,           "bpf",         "pseudo file system" },
        { CONFIGFS_MAGIC,         "configfs",    "pseudo file system" },
        { FUSECTL_MAGIC,          "fusectl",     "pseudo file system" },
        { MQUEUE_MAGIC,           "mqueue",      "pseudo file system" },
        { HUGETLBFS_MAGIC,        "hugetlbfs",   "in memory" },
        { AUTOFS_SUPER_MAGIC,     "autofs",      "automounter" },
        { BINFMTFS_MAGIC,         "binfmt_misc", "pseudo file system" },
        { EFIVARFS_MAGIC,         "efivarfs",    "firmware variables" },
        { NSFS_MAGIC_,            "nsfs",        "pseudo file system" },
        { RPC_PIPEFS_MAGIC,       "rpc_pipefs",  "pseudo file system" },
        { NFS_SUPER_MAGIC,        "nfs",         "network file system (also nfs4)" },
        { SMB_SUPER_MAGIC,        "smbfs",       "network file system" },
        { CIFS_MAGIC,             "cifs",        "network file system" },
        { SMB2_MAGIC,             "smb3",        "network file system" },
        { V9FS_MAGIC,             "9p",          "network file system" },
        { CEPH_MAGIC,             "ceph",        "network file system" },
        { AFS_MAGIC_,             "afs",         "network file system" },
        { CODA_MAGIC,             "coda",        "network file system" },
        { NCP_MAGIC,              "ncpfs",       "network file system" },
        { FUSE_MAGIC,             "fuse",        "FUSE (sshfs, rclone, …; fuseblk disks are walked)" },
        { SQUASHFS_MAGIC,         "squashfs",    "read-only image (snaps)" },
        { ISO9660_MAGIC,          "iso9660",     "read-only image (CD, DVD)" },
};
const size_t select_skipped_fs_types_n = ELEMENTSOF(select_skipped_fs_types);

typedef struct Expectation {
        char *pattern;
        size_t len;
        bool glob;
        unsigned slashes;               /* a glob matches paths of this many components */
} Expectation;

typedef struct FsCacheEntry {
        dev_t dev;
        const char *skip;               /* type name if not walked, else NULL */
        char name[48];
} FsCacheEntry;

struct SelectPolicy {
        char **excludes;                /* borrowed from the schedule */
        Expectation *expects;
        size_t n_expects;
        bool skip_packaged, verify_packaged;
        DpkgDb *dpkg;

        bool have_destination;
        dev_t dest_dev;
        ino_t dest_ino;

        FsCacheEntry fs_cache[FS_CACHE_MAX];
        size_t n_fs_cache;

        EVP_MD_CTX *md5;
        uint8_t *buf;
};

int select_policy_new(const Schedule *s, const struct stat *destination, SelectPolicy **ret, char **ret_error) {
        _cleanup_(select_policy_freep) SelectPolicy *p = calloc(1, sizeof *p);
        int r;

        if (!p)
                return -ENOMEM;
        p->excludes = s->excludes;
        p->skip_packaged = s->skip_packaged;
        p->verify_packaged = s->skip_packaged && s->verify_packaged;

        size_t n = strv_length(s->expects);
        if (n > 0) {
                p->expects = calloc(n, sizeof *p->expects);
                if (!p->expects)
                        return -ENOMEM;
        }
        STRV_FOREACH(e, s->expects) {
                Expectation *x = &p->expects[p->n_expects++];
                x->pattern = strdup(*e);
                if (!x->pattern)
                        return -ENOMEM;
                x->len = strlen(x->pattern);
                x->glob = strpbrk(x->pattern, "*?[") != NULL;
                for (const char *c = x->pattern; *c; c++)
                        x->slashes += *c == '/';
        }

        /* Never the archives themselves: the destination may lie inside a source. */
        struct stat st;
        if (!destination && stat(s->destination, &st) >= 0 && S_ISDIR(st.st_mode))
                destination = &st;
        if (destination) {
                p->have_destination = true;
                p->dest_dev = destination->st_dev;
                p->dest_ino = destination->st_ino;
        }

        if (p->skip_packaged) {
                r = dpkg_db_load(NULL, NULL, p->verify_packaged ? DPKG_LOAD_MD5SUMS : 0, &p->dpkg, ret_error);
                if (r < 0)
                        return r;
        }
        if (p->verify_packaged) {
                p->md5 = EVP_MD_CTX_new();
                p->buf = malloc(VERIFY_BUFFER_SIZE);
                if (!p->md5 || !p->buf)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

SelectPolicy *select_policy_free(SelectPolicy *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_expects; i++)
                free(p->expects[i].pattern);
        free(p->expects);
        dpkg_db_free(p->dpkg);
        EVP_MD_CTX_free(p->md5);
        free(p->buf);
        free(p);
        return NULL;
}

const DpkgDb *select_policy_dpkg(const SelectPolicy *p) {
        return p->dpkg;
}

bool select_policy_reports_unexpected(const SelectPolicy *p) {
        return p->n_expects > 0;
}

bool select_policy_expected(const SelectPolicy *p, const char *path, size_t len) {
        for (size_t i = 0; i < p->n_expects; i++) {
                const Expectation *x = &p->expects[i];
                if (!x->glob) {
                        /* a directory prefix: the path itself and everything below */
                        if (x->len == 1 ||
                            (len >= x->len && memcmp(path, x->pattern, x->len) == 0 && (len == x->len || path[x->len] == '/')))
                                return true;
                        continue;
                }
                /* a glob covers what it matches and everything below that:
                 * compare it with the path's first components only */
                char prefix[PATH_MAX];
                size_t k = 0;
                unsigned slashes = 0;
                for (; k < len; k++)
                        if (path[k] == '/' && ++slashes > x->slashes)
                                break;
                if (k >= sizeof prefix)
                        continue;
                memcpy(prefix, path, k);
                prefix[k] = 0;
                if (fnmatch(x->pattern, prefix, FNM_PATHNAME) == 0)
                        return true;
        }
        return false;
}

/* FUSE is a network mount (sshfs, rclone) unless it is a block device's
 * (fuseblk: ntfs-3g and friends); only mountinfo tells them apart. */
static bool fuse_is_local(dev_t dev, char *name, size_t size) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[4096];
        if (!f)
                return false;
        while (fgets(line, sizeof line, f)) {
                unsigned maj, min;
                if (sscanf(line, "%*u %*u %u:%u", &maj, &min) != 2 || makedev(maj, min) != dev)
                        continue;
                const char *sep = strstr(line, " - ");
                if (!sep)
                        continue;
                snprintf(name, size, "%.*s", (int) strcspn(sep + 3, " "), sep + 3);
                return streq(name, "fuseblk");
        }
        return false;
}

/* The type name of the file system DIR (a mount point) is on if it is not
 * walked, NULL if it is. Cached per device. */
static const char *filesystem_skipped(SelectPolicy *p, const SelectCandidate *c) {
        dev_t dev = c->st->st_dev;
        for (size_t i = 0; i < p->n_fs_cache; i++)
                if (p->fs_cache[i].dev == dev)
                        return p->fs_cache[i].skip;

        FsCacheEntry e = { .dev = dev };
        struct statfs sfs;
        int fd = openat(c->dir_fd, c->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 && fstatfs(fd, &sfs) >= 0) {
                for (size_t i = 0; i < select_skipped_fs_types_n; i++) {
                        if ((long) sfs.f_type != select_skipped_fs_types[i].magic)
                                continue;
                        snprintf(e.name, sizeof e.name, "%s", select_skipped_fs_types[i].name);
                        if (select_skipped_fs_types[i].magic != FUSE_MAGIC || !fuse_is_local(dev, e.name, sizeof e.name))
                                e.skip = "";
                        break;
                }
        }
        safe_close(fd);
        if (p->n_fs_cache == FS_CACHE_MAX)
                p->n_fs_cache = 0;      /* a machine with that many mounts: start over */
        FsCacheEntry *slot = &p->fs_cache[p->n_fs_cache++];
        *slot = e;
        if (slot->skip)
                slot->skip = slot->name;
        return slot->skip;
}

static const char *builtin_skipped(const SelectCandidate *c) {
        for (size_t i = 0; i < select_builtin_paths_n; i++) {
                const char *b = select_builtin_paths[i].path;
                if (c->path[1] == b[1] && strlen(b) == c->len && memcmp(b, c->path, c->len) == 0)
                        return select_builtin_paths[i].why;
        }
        return NULL;
}

/* VerifyPackaged=yes: whether the packaged file still is what its package
 * shipped. A file that cannot be read counts as changed: the writer then
 * tries it and says why it cannot. */
static bool packaged_file_unchanged(SelectPolicy *p, const SelectCandidate *c) {
        const uint8_t *want = dpkg_db_md5(p->dpkg, c->path, c->len);
        uint8_t got[EVP_MAX_MD_SIZE];
        unsigned got_len = 0;
        bool ok = false;

        if (!want)
                return true;            /* dpkg keeps no checksum: nothing to compare with */
        int fd = openat_noatime(c->dir_fd, c->name, OPEN_WALKED_FILE);
        if (fd < 0)
                return false;
        if (EVP_DigestInit_ex(p->md5, EVP_md5(), NULL) == 1) {
                ssize_t k;
                while ((k = read(fd, p->buf, VERIFY_BUFFER_SIZE)) > 0 || (k < 0 && errno == EINTR))
                        if (k > 0 && EVP_DigestUpdate(p->md5, p->buf, (size_t) k) != 1)
                                break;
                ok = k == 0 && EVP_DigestFinal_ex(p->md5, got, &got_len) == 1 && got_len == 16 &&
                     memcmp(got, want, 16) == 0;
        }
        safe_close(fd);
        return ok;
}

static SelectReason dpkg_reason(SelectPolicy *p, const SelectCandidate *c, bool dir) {
        switch (dpkg_db_classify(p->dpkg, c->path, c->len, dir)) {
        case DPKG_MANAGED:
                return SELECT_DPKG;
        case DPKG_CONFFILE:
                return SELECT_CONFFILE;
        case DPKG_PACKAGED:
                if (p->verify_packaged && S_ISREG(c->st->st_mode) && !packaged_file_unchanged(p, c))
                        return SELECT_MODIFIED;
                return SKIP_PACKAGED;
        default:
                return SELECT_UNOWNED;
        }
}

void select_policy_check(SelectPolicy *p, const SelectCandidate *c, SelectDecision *ret) {
        bool dir = S_ISDIR(c->st->st_mode);
        SelectDecision d = {};

        if (c->level > 0 && selection_excluded(p->excludes, c->path, c->source))
                d.reason = SKIP_EXCLUDE;
        else if (c->level > 0 && c->st->st_dev != c->parent_dev && (d.detail = filesystem_skipped(p, c)))
                d.reason = SKIP_FILESYSTEM;
        else if (c->level > 0 && (d.detail = builtin_skipped(c)))
                d.reason = SKIP_BUILTIN;
        else if (dir && p->have_destination && c->st->st_dev == p->dest_dev && c->st->st_ino == p->dest_ino)
                d.reason = SKIP_DESTINATION;
        else if (S_ISSOCK(c->st->st_mode))
                d.reason = SKIP_SOCKET;
        else if (!p->skip_packaged)
                d.reason = SELECT_SOURCE;
        else
                d.reason = dpkg_reason(p, c, dir);

        bool stored = select_reason_stored(d.reason);
        d.descend = dir && (stored || d.reason == SKIP_PACKAGED);
        d.unexpected = stored && !dir && d.reason != SELECT_DPKG && p->n_expects > 0 &&
                       !select_policy_expected(p, c->path, c->len);
        *ret = d;
}
