/* SPDX-License-Identifier: MIT */
/*
 * The dpkg database as one hash set of paths (see dpkg-db.h).
 *
 * Layout: every path lives once, NUL-terminated, in one arena; the table
 * holds (arena offset, hash) pairs with linear probing, plus one byte of
 * flags per slot and, only for VerifyPackaged=yes, 16 bytes of MD5. On this
 * kind of system (800 packages, 140,000 listed paths, 8 MiB of .list text)
 * that is about 12 MiB and a few tens of milliseconds to load.
 *
 * Order of loading matters: diversions first (their "from" paths are marked
 * so that the .list of the diverting package can be recognised while read),
 * then status and the .list files, the conffiles, the alternatives, and last
 * the md5sums (which only annotate paths already there, so the table no
 * longer grows).
 */
#include <ctype.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include "dpkg-db.h"
#include "format-util.h"
#include "path-util.h"

#define STATUS_FILE_MAX   (256u << 20)  /* dpkg's status of 50,000 packages is ~100 MiB */
#define LIST_FILE_MAX     (256u << 20)

enum {
        PATH_LISTED         = 1 << 0,   /* in the .list of an installed package */
        PATH_CONFFILE       = 1 << 1,
        PATH_ALTERNATIVE    = 1 << 2,   /* a link update-alternatives manages */
        PATH_DIVERTED       = 1 << 3,   /* a diversion's "to", or a "from" the diverter does not ship */
        PATH_DIVERT_FROM    = 1 << 4,   /* a diversion's "from" (resolved when loading ends) */
        PATH_DIVERTER_SHIPS = 1 << 5,   /* ... which the diverting package ships itself */
        PATH_HAS_MD5        = 1 << 6,
};

typedef struct Slot {
        uint32_t off;                   /* into the arena; 0: empty slot */
        uint32_t hash;
} Slot;

typedef struct PathFilter {
        bool include;
        char *glob;
        size_t literal_len;             /* the glob's prefix without wildcards */
} PathFilter;

typedef struct Diversion {
        char *from, *to;
        char *by;                       /* the diverting package; NULL: a local diversion */
} Diversion;

typedef struct Alias {
        char path[16];                  /* "/bin", a symlink to usr/bin */
        size_t len;
} Alias;

/* One stanza of the status file, the fields we need. */
typedef struct Package {
        char *name, *arch, *multi_arch, *status, *conffiles;
        unsigned line;
        const char *origin;             /* "status" or "updates/0003" */
} Package;

struct DpkgDb {
        char *admindir, *confdir;
        size_t admindir_len;

        char *arena;
        size_t arena_len, arena_cap;
        Slot *slots;
        uint8_t *flags;
        uint8_t (*md5)[16];
        size_t cap, n;                  /* cap: a power of two */

        Alias aliases[8];
        size_t n_aliases;
        PathFilter *filters;
        size_t n_filters;
        Diversion *diversions;
        size_t n_diversions;

        DpkgDbStats stats;
        const char *loading_package;    /* whose .list is being read */
        char *buf;                      /* file buffer, reused */
        size_t buf_cap;
};

static const char *const class_names[_DPKG_CLASS_MAX] = {
        [DPKG_UNOWNED] = "unowned",
        [DPKG_PACKAGED] = "packaged",
        [DPKG_CONFFILE] = "conffile",
        [DPKG_MANAGED] = "dpkg",
};

const char *dpkg_class_to_string(DpkgClass c) {
        return c >= 0 && c < _DPKG_CLASS_MAX ? class_names[c] : NULL;
}

/* ---- the hash set ---- */

/* Eight bytes a round: paths are long, and this runs once per walked entry. */
static uint32_t path_hash(const char *s, size_t n) {
        uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ n;
        while (n >= 8) {
                uint64_t w;
                memcpy(&w, s, 8);
                h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
                h ^= h >> 32;
                s += 8;
                n -= 8;
        }
        uint64_t w = 0;
        memcpy(&w, s, n);
        h = (h ^ w) * UINT64_C(0xc4ceb9fe1a85ec53);
        h ^= h >> 29;
        return (uint32_t) h;
}

static ssize_t table_find(const DpkgDb *db, const char *p, size_t len, uint32_t h) {
        if (db->cap == 0)
                return -1;
        size_t mask = db->cap - 1;
        for (size_t i = h & mask;; i = (i + 1) & mask) {
                const Slot *s = &db->slots[i];
                if (s->off == 0)
                        return -1;
                if (s->hash == h && memcmp(db->arena + s->off, p, len) == 0 && db->arena[s->off + len] == 0)
                        return (ssize_t) i;
        }
}

static int table_resize(DpkgDb *db, size_t cap) {
        Slot *slots = calloc(cap, sizeof *slots);
        uint8_t *flags = calloc(cap, 1);
        if (!slots || !flags) {
                free(slots);
                free(flags);
                return -ENOMEM;
        }
        for (size_t i = 0; i < db->cap; i++) {
                if (db->slots[i].off == 0)
                        continue;
                size_t j = db->slots[i].hash & (cap - 1);
                while (slots[j].off != 0)
                        j = (j + 1) & (cap - 1);
                slots[j] = db->slots[i];
                flags[j] = db->flags[i];
        }
        free(db->slots);
        free(db->flags);
        db->slots = slots;
        db->flags = flags;
        db->cap = cap;
        return 0;
}

static int arena_append(DpkgDb *db, const char *p, size_t len, uint32_t *ret_off) {
        if (db->arena_len + len + 1 > db->arena_cap) {
                size_t cap = MAX(db->arena_cap * 2, db->arena_len + len + 1 + (1u << 20));
                if (cap > UINT32_MAX)
                        return -E2BIG;
                char *a = realloc(db->arena, cap);
                if (!a)
                        return -ENOMEM;
                db->arena = a;
                db->arena_cap = cap;
        }
        *ret_off = (uint32_t) db->arena_len;
        memcpy(db->arena + db->arena_len, p, len);
        db->arena[db->arena_len + len] = 0;
        db->arena_len += len + 1;
        return 0;
}

/* Adds FLAG to PATH, inserting it if new; *ret_index is its slot. */
static int table_add(DpkgDb *db, const char *p, size_t len, uint8_t flag, size_t *ret_index) {
        uint32_t h = path_hash(p, len);
        ssize_t i = table_find(db, p, len, h);
        int r;

        if (i < 0) {
                /* at most 70% full: probes stay short */
                if ((db->n + 1) * 10 > db->cap * 7) {
                        /* a Debian server lists some 100,000-300,000 paths */
                        r = table_resize(db, db->cap ? db->cap * 2 : 1u << 18);
                        if (r < 0)
                                return r;
                }
                uint32_t off;
                r = arena_append(db, p, len, &off);
                if (r < 0)
                        return r;
                size_t j = h & (db->cap - 1);
                while (db->slots[j].off != 0)
                        j = (j + 1) & (db->cap - 1);
                db->slots[j] = (Slot) { .off = off, .hash = h };
                db->n++;
                i = (ssize_t) j;
        }
        if ((flag & PATH_LISTED) && !(db->flags[i] & PATH_LISTED))
                db->stats.paths++;
        if ((flag & PATH_CONFFILE) && !(db->flags[i] & PATH_CONFFILE))
                db->stats.conffiles++;
        if ((flag & PATH_ALTERNATIVE) && !(db->flags[i] & PATH_ALTERNATIVE))
                db->stats.alternatives++;
        db->flags[i] |= flag;
        if (ret_index)
                *ret_index = (size_t) i;
        return 0;
}

/* ---- paths as the walk sees them ---- */

/* On a merged-/usr system /bin, /sbin, /lib* are symlinks into /usr; dpkg
 * still records many files under the old names. */
static void detect_usr_merge(DpkgDb *db) {
        static const char *const names[] = { "bin", "sbin", "lib", "lib32", "lib64", "libx32", "libo32" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                char link[64], target[64], rel[64];
                snprintf(link, sizeof link, "/%s", names[i]);
                ssize_t k = readlink(link, target, sizeof target - 1);
                if (k < 0)
                        continue;
                target[k] = 0;
                snprintf(rel, sizeof rel, "usr/%s", names[i]);
                if (!streq(target, rel) && !(target[0] == '/' && streq(target + 1, rel)))
                        continue;
                Alias *a = &db->aliases[db->n_aliases++];
                a->len = (size_t) snprintf(a->path, sizeof a->path, "/%s", names[i]);
        }
}

/* The path a walk of / meets for dpkg's path P (not NUL-terminated). BUF
 * must hold PATH_MAX + 8 bytes. */
static const char *canonical(const DpkgDb *db, const char *p, size_t len, char *buf, size_t *ret_len) {
        if (len == 2 && p[0] == '/' && p[1] == '.')
                len = 1;                /* dpkg lists the root as "/." */
        while (len > 1 && p[len - 1] == '/')
                len--;
        for (size_t i = 0; i < db->n_aliases; i++) {
                const Alias *a = &db->aliases[i];
                if (len >= a->len && memcmp(p, a->path, a->len) == 0 && (len == a->len || p[a->len] == '/')) {
                        memcpy(buf, "/usr", 4);
                        memcpy(buf + 4, p, len);
                        *ret_len = len + 4;
                        return buf;
                }
        }
        *ret_len = len;
        return p;
}

static int add_path(DpkgDb *db, const char *p, size_t len, uint8_t flag, size_t *ret_index) {
        char buf[PATH_MAX + 8];
        size_t n;
        if (len >= PATH_MAX)
                return -ENAMETOOLONG;
        const char *c = canonical(db, p, len, buf, &n);
        return table_add(db, c, n, flag, ret_index);
}

static ssize_t find_path(const DpkgDb *db, const char *p, size_t len) {
        char buf[PATH_MAX + 8];
        size_t n;
        if (len >= PATH_MAX)
                return -1;
        const char *c = canonical(db, p, len, buf, &n);
        return table_find(db, c, n, path_hash(c, n));
}

/* ---- files ---- */

/* Reads DIR_FD/NAME whole into *BUF (grown as needed, NUL-terminated). */
static int read_file_at(int dir_fd, const char *name, size_t max, char **buf, size_t *cap, size_t *ret_len) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        size_t n = 0;

        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        for (;;) {
                if (*cap < n + 4096 + 1 || *cap < (size_t) st.st_size + 1) {
                        size_t c = MAX(*cap * 2, MAX(n + 4096 + 1, (size_t) st.st_size + 4096));
                        char *b = realloc(*buf, c);
                        if (!b)
                                return -ENOMEM;
                        *buf = b;
                        *cap = c;
                }
                ssize_t k = read(fd, *buf + n, *cap - n - 1);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > max)
                        return -EFBIG;
        }
        (*buf)[n] = 0;
        *ret_len = n;
        return 0;
}

/* Into the database's reused buffer: for the many .list files. */
static int read_into_buf(DpkgDb *db, int dir_fd, const char *name, size_t max, size_t *ret_len) {
        return read_file_at(dir_fd, name, max, &db->buf, &db->buf_cap, ret_len);
}

/* Into a buffer of its own, or NULL with *ret_errno. */
static char *read_whole(int dir_fd, const char *name, size_t max, size_t *ret_len, int *ret_errno) {
        char *buf = NULL;
        size_t cap = 0;
        int r = read_file_at(dir_fd, name, max, &buf, &cap, ret_len);
        if (r < 0) {
                free(buf);
                *ret_errno = r;
                return NULL;
        }
        return buf;
}

/* Next line of TEXT at *POS (the newline replaced by NUL), or NULL at the end. */
static char *next_line(char *text, size_t len, size_t *pos, size_t *ret_len) {
        if (*pos >= len)
                return NULL;
        char *line = text + *pos, *nl = memchr(line, '\n', len - *pos);
        size_t n = nl ? (size_t) (nl - line) : len - *pos;
        line[n] = 0;
        *pos += n + 1;
        *ret_len = n;
        return line;
}

/* ---- path-exclude= and path-include= ---- */

static int add_filter(DpkgDb *db, bool include, const char *glob) {
        PathFilter *f = realloc(db->filters, (db->n_filters + 1) * sizeof *f);
        if (!f)
                return -ENOMEM;
        db->filters = f;
        char *g = strdup(glob);
        if (!g)
                return -ENOMEM;
        db->filters[db->n_filters++] = (PathFilter) {
                .include = include,
                .glob = g,
                .literal_len = strcspn(g, "*?[\\"),
        };
        return 0;
}

static int parse_dpkg_cfg(DpkgDb *db, int dir_fd, const char *name, const char *origin, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        size_t len, pos = 0, n;
        unsigned line_no = 0;
        int r = 0;
        char *line;

        text = read_whole(dir_fd, name, 1u << 20, &len, &r);
        if (!text)
                return r == -ENOENT ? 0 : errorf(ret_error, r, "Cannot read %s: %s", origin, strerror(-r));
        while ((line = next_line(text, len, &pos, &n))) {
                line_no++;
                while (isspace((unsigned char) *line))
                        line++;
                if (*line == 0 || *line == '#')
                        continue;
                /* "option=value" or "option value", as dpkg reads it */
                size_t k = strcspn(line, "= \t");
                char *value = line + k;
                if (*value)
                        *value++ = 0;
                while (isspace((unsigned char) *value) || *value == '=')
                        value++;
                size_t vl = strlen(value);
                while (vl > 0 && isspace((unsigned char) value[vl - 1]))
                        value[--vl] = 0;
                bool include = streq(line, "path-include");
                if (!include && !streq(line, "path-exclude"))
                        continue;
                if (value[0] != '/')
                        return errorf(ret_error, -EBADMSG, "%s:%u: %s needs an absolute glob", origin, line_no, line);
                r = add_filter(db, include, value);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* dpkg reads CONFDIR/dpkg.cfg, then CONFDIR/dpkg.cfg.d/ in name order. */
static int load_filters(DpkgDb *db, char **ret_error) {
        _cleanup_close_ int fd = open(db->confdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *origin = NULL;
        struct dirent **names = NULL;
        int r, n;

        if (fd < 0)
                return errno == ENOENT ? 0 : errorf(ret_error, negative_errno(), "Cannot open %s: %m", db->confdir);
        if (asprintf(&origin, "%s/dpkg.cfg", db->confdir) < 0)
                return -ENOMEM;
        r = parse_dpkg_cfg(db, fd, "dpkg.cfg", origin, ret_error);
        if (r < 0)
                return r;

        _cleanup_free_ char *dir = path_join(db->confdir, "dpkg.cfg.d");
        if (!dir)
                return -ENOMEM;
        n = scandir(dir, &names, NULL, alphasort);
        if (n < 0)
                return errno == ENOENT ? 0 : errorf(ret_error, negative_errno(), "Cannot read %s: %m", dir);
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        for (int i = 0; i < n; i++) {
                const char *e = names[i]->d_name;
                /* dpkg's rule: names of [A-Za-z0-9_-] only (no backups, no .dpkg-old) */
                bool valid = *e && strspn(e, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(e);
                if (r >= 0 && valid && dfd >= 0) {
                        _cleanup_free_ char *o = path_join(dir, e);
                        r = o ? parse_dpkg_cfg(db, dfd, e, o, ret_error) : -ENOMEM;
                }
                free(names[i]);
        }
        free(names);
        if (r >= 0 && dfd < 0)
                r = errorf(ret_error, negative_errno(), "Cannot open %s: %m", dir);
        return r;
}

/* Whether dpkg's path filters leave PATH out: the last rule that matches decides. */
static bool path_filtered(const DpkgDb *db, const char *path) {
        for (size_t i = db->n_filters; i > 0; i--) {
                const PathFilter *f = &db->filters[i - 1];
                if (strncmp(path, f->glob, f->literal_len) != 0)
                        continue;
                /* dpkg matches without FNM_PATHNAME: "*" also spans "/" */
                if (fnmatch(f->glob, path, 0) == 0)
                        return !f->include;
        }
        return false;
}

/* ---- diversions ---- */

static int load_diversions(DpkgDb *db, int admin_fd, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        size_t len, pos = 0, n;
        char *lines[3];
        unsigned line_no = 0;
        int r = 0;

        text = read_whole(admin_fd, "diversions", 16u << 20, &len, &r);
        if (!text)
                return r == -ENOENT ? 0 : errorf(ret_error, r, "Cannot read %s/diversions: %s", db->admindir, strerror(-r));
        for (;;) {
                size_t k = 0;
                for (; k < 3; k++) {
                        lines[k] = next_line(text, len, &pos, &n);
                        if (!lines[k])
                                break;
                        line_no++;
                }
                if (k == 0)
                        break;
                if (k < 3 || lines[0][0] != '/' || lines[1][0] != '/' || lines[2][0] == 0)
                        return errorf(ret_error, -EBADMSG, "%s/diversions:%u: not a diversion "
                                      "(expected lines: from, to, package)", db->admindir, line_no);
                Diversion *d = realloc(db->diversions, (db->n_diversions + 1) * sizeof *d);
                if (!d)
                        return -ENOMEM;
                db->diversions = d;
                d = &db->diversions[db->n_diversions++];
                *d = (Diversion) {
                        .from = strdup(lines[0]),
                        .to = strdup(lines[1]),
                        .by = streq(lines[2], ":") ? NULL : strdup(lines[2]),
                };
                if (!d->from || !d->to || (!d->by && !streq(lines[2], ":")))
                        return -ENOMEM;
                r = add_path(db, d->from, strlen(d->from), PATH_DIVERT_FROM, NULL);
                if (r >= 0)
                        r = add_path(db, d->to, strlen(d->to), PATH_DIVERTED, NULL);
                if (r < 0)
                        return r;
        }
        db->stats.diversions = db->n_diversions;
        return 0;
}

/* While PKG's .list is read: does PKG divert PATH away from the others? */
static bool diverted_by(const DpkgDb *db, const char *path, size_t len, const char *pkg) {
        for (size_t i = 0; i < db->n_diversions; i++) {
                const Diversion *d = &db->diversions[i];
                char buf[PATH_MAX + 8];
                size_t n;
                if (!d->by)
                        continue;
                const char *c = canonical(db, d->from, strlen(d->from), buf, &n);
                if (n != len || memcmp(c, path, len) != 0)
                        continue;
                /* dpkg-divert --package takes the name, maybe with ":arch" */
                size_t pl = strcspn(pkg, ":"), bl = strcspn(d->by, ":");
                if (pl == bl && memcmp(pkg, d->by, pl) == 0)
                        return true;
        }
        return false;
}

/* A "from" that the diverting package does not ship itself (always so for
 * a local diversion) is whatever the admin or the diverter put there. */
static void resolve_diversions(DpkgDb *db) {
        for (size_t i = 0; i < db->n_diversions; i++) {
                ssize_t k = find_path(db, db->diversions[i].from, strlen(db->diversions[i].from));
                if (k >= 0 && !(db->flags[k] & PATH_DIVERTER_SHIPS))
                        db->flags[k] |= PATH_DIVERTED;
        }
}

/* ---- status ---- */

static int set_field(char **field, const char *value) {
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        free(*field);
        *field = v;
        return 0;
}

static void package_done(Package *p) {
        free(p->name);
        free(p->arch);
        free(p->multi_arch);
        free(p->status);
        free(p->conffiles);
        *p = (Package) {};
}

typedef struct PackageList {
        Package *p;
        size_t n;
} PackageList;

static void package_list_done(PackageList *l) {
        for (size_t i = 0; i < l->n; i++)
                package_done(&l->p[i]);
        free(l->p);
        *l = (PackageList) {};
}

/* Adds P, or replaces the record of the same package (a pending update). */
static int package_list_put(PackageList *l, Package *p, bool update) {
        for (size_t i = 0; update && i < l->n; i++)
                if (streq(l->p[i].name, p->name) && streq_ptr(l->p[i].arch, p->arch)) {
                        package_done(&l->p[i]);
                        l->p[i] = *p;
                        *p = (Package) {};
                        return 0;
                }
        Package *n = realloc(l->p, (l->n + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        l->p = n;
        l->p[l->n++] = *p;
        *p = (Package) {};
        return 0;
}

/* Parses the status file, or a pending update (ORIGIN "updates/NNNN"), into
 * L: stanzas of "Field: value" lines with continuation lines, separated by
 * blank lines. */
static int parse_status(const char *admindir, char *text, size_t len, const char *origin, PackageList *l, char **ret_error) {
        _cleanup_(package_done) Package p = {};
        bool update = !streq(origin, "status");
        char **field = NULL;            /* the field continuation lines belong to */
        size_t pos = 0, n;
        unsigned line_no = 0;
        char *line;
        int r;

        for (;;) {
                line = next_line(text, len, &pos, &n);
                if (line)
                        line_no++;
                if (!line || n == 0) {
                        if (p.line > 0) {
                                if (!p.name)
                                        return errorf(ret_error, -EBADMSG, "%s/%s:%u: a package record without Package:",
                                                      admindir, origin, p.line);
                                if (!p.status)
                                        return errorf(ret_error, -EBADMSG, "%s/%s:%u: package %s has no Status:",
                                                      admindir, origin, p.line, p.name);
                                /* later messages name the record by its package */
                                p.origin = update ? "updates" : "status";
                                r = package_list_put(l, &p, update);
                                if (r < 0)
                                        return r;
                        }
                        field = NULL;
                        if (!line)
                                return 0;
                        continue;
                }
                if (p.line == 0)
                        p.line = line_no;
                if (line[0] == ' ' || line[0] == '\t') {
                        if (line_no == p.line)
                                return errorf(ret_error, -EBADMSG, "%s/%s:%u: a continuation line without a field",
                                              admindir, origin, line_no);
                        if (field) {
                                /* Conffiles: one " /path md5 [flags]" per line */
                                _cleanup_free_ char *joined = NULL;
                                if (asprintf(&joined, "%s%s\n", strempty(*field), line) < 0)
                                        return -ENOMEM;
                                free(*field);
                                *field = TAKE_PTR(joined);
                        }
                        continue;
                }
                char *colon = strchr(line, ':');
                if (!colon || colon == line)
                        return errorf(ret_error, -EBADMSG, "%s/%s:%u: not a field: \"%.40s\"", admindir, origin, line_no, line);
                *colon = 0;
                const char *value = colon + 1;
                while (*value == ' ' || *value == '\t')
                        value++;
                field = NULL;
                r = 0;
                if (strcasecmp(line, "Package") == 0)
                        r = set_field(&p.name, value);
                else if (strcasecmp(line, "Status") == 0)
                        r = set_field(&p.status, value);
                else if (strcasecmp(line, "Architecture") == 0)
                        r = set_field(&p.arch, value);
                else if (strcasecmp(line, "Multi-Arch") == 0)
                        r = set_field(&p.multi_arch, value);
                else if (strcasecmp(line, "Conffiles") == 0) {
                        r = set_field(&p.conffiles, value);
                        field = &p.conffiles;
                }
                if (r < 0)
                        return r;
        }
}

typedef enum PackageState {
        STATE_NOT_INSTALLED,
        STATE_CONFIG_FILES,             /* removed, conffiles still there */
        STATE_FILES,                    /* unpacked or further: its files are on disk */
} PackageState;

static int package_state(const Package *p, const char *admindir, PackageState *ret, char **ret_error) {
        static const char *const wants[] = { "unknown", "install", "hold", "deinstall", "purge" };
        static const char *const eflags[] = { "ok", "reinstreq", "hold", "hold-reinstreq" };
        static const char *const with_files[] = {
                "half-installed", "unpacked", "half-configured", "triggers-awaited", "triggers-pending", "installed",
        };
        char want[32], eflag[32], state[32], extra;
        bool ok_want = false, ok_eflag = false;

        if (sscanf(p->status, "%31s %31s %31s %c", want, eflag, state, &extra) != 3)
                goto bad;
        for (size_t i = 0; i < ELEMENTSOF(wants); i++)
                ok_want = ok_want || streq(want, wants[i]);
        for (size_t i = 0; i < ELEMENTSOF(eflags); i++)
                ok_eflag = ok_eflag || streq(eflag, eflags[i]);
        if (!ok_want || !ok_eflag)
                goto bad;
        if (streq(state, "not-installed"))
                return *ret = STATE_NOT_INSTALLED, 0;
        if (streq(state, "config-files"))
                return *ret = STATE_CONFIG_FILES, 0;
        for (size_t i = 0; i < ELEMENTSOF(with_files); i++)
                if (streq(state, with_files[i]))
                        return *ret = STATE_FILES, 0;
bad:
        return errorf(ret_error, -EBADMSG, "%s/%s:%u: package %s has an invalid Status: %s",
                      admindir, p->origin, p->line, p->name, p->status);
}

static int load_status(DpkgDb *db, int admin_fd, PackageList *l, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        struct dirent **names = NULL;
        size_t len;
        int r = 0, n;

        text = read_whole(admin_fd, "status", STATUS_FILE_MAX, &len, &r);
        if (!text)
                return errorf(ret_error, r, "Cannot read the dpkg database %s/status: %s", db->admindir, strerror(-r));
        r = parse_status(db->admindir, text, len, "status", l, ret_error);
        if (r < 0)
                return r;

        /* Records dpkg wrote after an interruption, not yet merged into status. */
        _cleanup_free_ char *dir = path_join(db->admindir, "updates");
        if (!dir)
                return -ENOMEM;
        n = scandir(dir, &names, NULL, alphasort);
        if (n < 0)
                return errno == ENOENT ? 0 : errorf(ret_error, negative_errno(), "Cannot read %s: %m", dir);
        for (int i = 0; i < n; i++) {
                const char *e = names[i]->d_name;
                if (r >= 0 && *e && strspn(e, "0123456789") == strlen(e)) {
                        _cleanup_free_ char *rel = NULL, *t = NULL;
                        size_t tl;
                        if (asprintf(&rel, "updates/%s", e) < 0)
                                r = -ENOMEM;
                        else if (!(t = read_whole(admin_fd, rel, STATUS_FILE_MAX, &tl, &r)))
                                r = errorf(ret_error, r, "Cannot read %s/%s: %s", db->admindir, rel, strerror(-r));
                        else
                                r = parse_status(db->admindir, t, tl, rel, l, ret_error);
                }
                free(names[i]);
        }
        free(names);
        return r;
}

/* " /etc/x 0123abcd [obsolete] [remove-on-upgrade]" per line */
static int add_conffiles(DpkgDb *db, const Package *p, char **ret_error) {
        _cleanup_free_ char *text = strdup(p->conffiles);
        size_t pos = 0, n, len;
        char *line;

        if (!text)
                return -ENOMEM;
        len = strlen(text);
        while ((line = next_line(text, len, &pos, &n))) {
                while (*line == ' ' || *line == '\t')
                        line++, n--;
                if (n == 0)
                        continue;
                if (line[0] != '/')
                        return errorf(ret_error, -EBADMSG, "%s/%s:%u: package %s: bad Conffiles: line \"%.60s\"",
                                      db->admindir, p->origin, p->line, p->name, line);
                /* from the right: flags, then the checksum; the rest is the path */
                for (int words = 0; n > 0;) {
                        char *sp = memrchr(line, ' ', n);
                        if (!sp)
                                break;
                        const char *w = sp + 1;
                        bool flag = streq(w, "obsolete") || streq(w, "remove-on-upgrade");
                        *sp = 0;
                        n = (size_t) (sp - line);
                        if (!flag && ++words == 1)
                                break;
                }
                int r = add_path(db, line, n, PATH_CONFFILE, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- the .list files ---- */

/* Reads info/PKG.SUFFIX into db->buf: info/PKG:ARCH.SUFFIX for a Multi-Arch:
 * same package, though either name may be there. *ret_name is the name read
 * (the plain one if neither is there). */
static int read_info_file(DpkgDb *db, int info_fd, const Package *p, const char *suffix, char **ret_name, size_t *ret_len) {
        _cleanup_free_ char *qualified = NULL, *plain = NULL;
        int r;

        if (asprintf(&qualified, "%s:%s.%s", p->name, strempty(p->arch), suffix) < 0 ||
            asprintf(&plain, "%s.%s", p->name, suffix) < 0)
                return -ENOMEM;
        bool same = streq_ptr(p->multi_arch, "same");
        char **first = same ? &qualified : &plain, **second = same ? &plain : &qualified;
        r = read_into_buf(db, info_fd, *first, LIST_FILE_MAX, ret_len);
        if (r != -ENOENT) {
                *ret_name = TAKE_PTR(*first);
                return r;
        }
        r = read_into_buf(db, info_fd, *second, LIST_FILE_MAX, ret_len);
        *ret_name = r == -ENOENT ? TAKE_PTR(plain) : TAKE_PTR(*second);
        return r;
}

static int add_list(DpkgDb *db, int info_fd, const Package *p, PackageState state, char **ret_error) {
        _cleanup_free_ char *used = NULL;
        size_t len = 0, pos = 0, n;
        unsigned line_no = 0;
        char *line;
        int r;

        r = read_info_file(db, info_fd, p, "list", &used, &len);
        if (r == -ENOENT && state == STATE_CONFIG_FILES)
                return 0;
        if (r == -ENOENT)
                return errorf(ret_error, -EBADMSG, "The dpkg database is incomplete: %s/info/%s is missing, but "
                              "package %s is installed (%s)", db->admindir, used, p->name, p->status);
        if (r < 0)
                return errorf(ret_error, r, "Cannot read %s/info/%s: %s", db->admindir, used, strerror(-r));
        if (len == 0 && state == STATE_FILES)
                return errorf(ret_error, -EBADMSG, "The dpkg database is damaged: %s/info/%s is empty, but "
                              "package %s is installed", db->admindir, used, p->name);

        db->loading_package = p->name;
        while ((line = next_line(db->buf, len, &pos, &n))) {
                size_t index;
                line_no++;
                if (n == 0)
                        continue;
                if (line[0] != '/')
                        return errorf(ret_error, -EBADMSG, "%s/info/%s:%u: not an absolute path: \"%.60s\"",
                                      db->admindir, used, line_no, line);
                r = add_path(db, line, n, PATH_LISTED, &index);
                if (r == -ENAMETOOLONG)
                        return errorf(ret_error, -EBADMSG, "%s/info/%s:%u: path too long", db->admindir, used, line_no);
                if (r < 0)
                        return r;
                if (db->flags[index] & PATH_DIVERT_FROM) {
                        const char *c = db->arena + db->slots[index].off;
                        if (diverted_by(db, c, strlen(c), p->name))
                                db->flags[index] |= PATH_DIVERTER_SHIPS;
                }
        }
        db->loading_package = NULL;
        return 0;
}

/* ---- alternatives ---- */

static int add_alternative(DpkgDb *db, int dir_fd, const char *name, char **ret_error) {
        _cleanup_free_ char *text = NULL, *link = NULL;
        size_t len, pos = 0, n;
        int r = 0;
        char *line;

        text = read_whole(dir_fd, name, 4u << 20, &len, &r);
        if (!text)
                return errorf(ret_error, r, "Cannot read %s/alternatives/%s: %s", db->admindir, name, strerror(-r));
        /* mode, master link, then (slave name, slave link) pairs up to a blank line */
        line = next_line(text, len, &pos, &n);
        if (!line || (!streq(line, "auto") && !streq(line, "manual")))
                return errorf(ret_error, -EBADMSG, "%s/alternatives/%s:1: expected auto or manual", db->admindir, name);
        const char *master = next_line(text, len, &pos, &n);
        if (!master || master[0] != '/')
                return errorf(ret_error, -EBADMSG, "%s/alternatives/%s:2: expected the link's path", db->admindir, name);
        r = add_path(db, master, n, PATH_ALTERNATIVE, NULL);
        if (r < 0)
                return r;
        if (asprintf(&link, "/etc/alternatives/%s", name) < 0)
                return -ENOMEM;
        r = add_path(db, link, strlen(link), PATH_ALTERNATIVE, NULL);
        if (r < 0)
                return r;
        for (unsigned line_no = 3;; line_no += 2) {
                const char *slave = next_line(text, len, &pos, &n);
                if (!slave)
                        return errorf(ret_error, -EBADMSG, "%s/alternatives/%s:%u: truncated", db->admindir, name, line_no);
                if (n == 0)
                        break;
                const char *slave_link = next_line(text, len, &pos, &n);
                if (!slave_link || slave_link[0] != '/' || strchr(slave, '/'))
                        return errorf(ret_error, -EBADMSG, "%s/alternatives/%s:%u: expected a slave's name and link",
                                      db->admindir, name, line_no);
                r = add_path(db, slave_link, n, PATH_ALTERNATIVE, NULL);
                free(link);
                link = NULL;
                if (r >= 0 && asprintf(&link, "/etc/alternatives/%s", slave) < 0)
                        r = -ENOMEM;
                if (r >= 0)
                        r = add_path(db, link, strlen(link), PATH_ALTERNATIVE, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int load_alternatives(DpkgDb *db, int admin_fd, char **ret_error) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd, r;

        fd = openat(admin_fd, "alternatives", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : errorf(ret_error, negative_errno(), "Cannot open %s/alternatives: %m", db->admindir);
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -ENOMEM;
        }
        while ((errno = 0, de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                r = add_alternative(db, dirfd(d), de->d_name, ret_error);
                if (r < 0)
                        return r;
        }
        if (errno != 0)
                return errorf(ret_error, negative_errno(), "Cannot read %s/alternatives: %m", db->admindir);
        return 0;
}

/* ---- md5sums ---- */

static int hex_nibble(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int add_md5sums(DpkgDb *db, int info_fd, const Package *p, char **ret_error) {
        _cleanup_free_ char *used = NULL;
        size_t len = 0, pos = 0, n;
        unsigned line_no = 0;
        char *line;
        int r;

        r = read_info_file(db, info_fd, p, "md5sums", &used, &len);
        if (r == -ENOENT)
                return 0;       /* some packages ship none */
        if (r < 0)
                return errorf(ret_error, r, "Cannot read %s/info/%s: %s", db->admindir, used, strerror(-r));

        while ((line = next_line(db->buf, len, &pos, &n))) {
                uint8_t md5[16];
                line_no++;
                if (n == 0)
                        continue;
                bool ok = n > 34 && line[32] == ' ' && (line[33] == ' ' || line[33] == '*');
                for (size_t i = 0; ok && i < 16; i++) {
                        int hi = hex_nibble(line[2 * i]), lo = hex_nibble(line[2 * i + 1]);
                        ok = hi >= 0 && lo >= 0;
                        md5[i] = (uint8_t) (hi << 4 | lo);
                }
                if (!ok)
                        return errorf(ret_error, -EBADMSG, "%s/info/%s:%u: not an md5sums line", db->admindir, used, line_no);
                /* "usr/bin/ls": relative to / */
                char *rel = line + 33;
                *rel = '/';
                ssize_t k = find_path(db, rel, n - 33);
                if (k < 0)
                        continue;
                memcpy(db->md5[k], md5, 16);
                if (!(db->flags[k] & PATH_HAS_MD5))
                        db->stats.md5sums++;
                db->flags[k] |= PATH_HAS_MD5;
        }
        return 0;
}

/* ---- the whole ---- */

int dpkg_db_check_present(const char *admindir, char **ret_error) {
        _cleanup_free_ char *status = path_join(admindir ?: DPKG_ADMINDIR, "status");
        if (!status)
                return -ENOMEM;
        if (access(status, R_OK) < 0) {
                int r = negative_errno();
                if (r == -ENOENT)
                        return errorf(ret_error, r, "%s does not exist: this system has no dpkg, so no "
                                      "package can give files back", status);
                return errorf(ret_error, r, "cannot read %s: %s", status, strerror(-r));
        }
        return 0;
}

static uint64_t thread_cpu_usec(void) {
        struct timespec ts;
        if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

int dpkg_db_load(const char *admindir, const char *confdir, DpkgLoadFlags flags, DpkgDb **ret, char **ret_error) {
        _cleanup_(dpkg_db_freep) DpkgDb *db = calloc(1, sizeof *db);
        _cleanup_(package_list_done) PackageList packages = {};
        _cleanup_close_ int admin_fd = -EBADF, info_fd = -EBADF;
        uint64_t start = now_monotonic_usec(), start_cpu = thread_cpu_usec();
        int r;

        if (!db)
                return -ENOMEM;
        db->admindir = path_normalize(admindir ?: DPKG_ADMINDIR);
        db->confdir = path_normalize(confdir ?: DPKG_CONFDIR);
        if (!db->admindir || !db->confdir)
                return -ENOMEM;
        db->admindir_len = strlen(db->admindir);
        /* offset 0 means "empty slot" */
        uint32_t zero;
        r = arena_append(db, "", 0, &zero);
        if (r < 0)
                return r;
        detect_usr_merge(db);

        admin_fd = open(db->admindir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (admin_fd < 0)
                return errorf(ret_error, negative_errno(), "Cannot open the dpkg database %s: %m", db->admindir);
        info_fd = openat(admin_fd, "info", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (info_fd < 0)
                return errorf(ret_error, negative_errno(), "Cannot open the dpkg database %s/info: %m", db->admindir);

        r = load_filters(db, ret_error);
        if (r >= 0)
                r = load_diversions(db, admin_fd, ret_error);
        if (r >= 0)
                r = load_status(db, admin_fd, &packages, ret_error);
        if (r < 0)
                return r;

        for (size_t i = 0; i < packages.n; i++) {
                const Package *p = &packages.p[i];
                PackageState state;
                r = package_state(p, db->admindir, &state, ret_error);
                if (r < 0)
                        return r;
                if (state == STATE_NOT_INSTALLED)
                        continue;
                if (state == STATE_FILES)
                        db->stats.packages++;
                r = add_list(db, info_fd, p, state, ret_error);
                if (r >= 0 && p->conffiles)
                        r = add_conffiles(db, p, ret_error);
                if (r < 0)
                        return r;
        }
        if (db->stats.packages == 0)
                return errorf(ret_error, -EBADMSG, "The dpkg database %s/status lists no installed package", db->admindir);
        resolve_diversions(db);

        r = load_alternatives(db, admin_fd, ret_error);
        if (r < 0)
                return r;

        if (flags & DPKG_LOAD_MD5SUMS) {
                db->md5 = calloc(db->cap, sizeof *db->md5);
                if (!db->md5)
                        return -ENOMEM;
                for (size_t i = 0; i < packages.n; i++) {
                        PackageState state;
                        if (package_state(&packages.p[i], db->admindir, &state, ret_error) < 0 || state != STATE_FILES)
                                continue;
                        r = add_md5sums(db, info_fd, &packages.p[i], ret_error);
                        if (r < 0)
                                return r;
                }
        }

        free(db->buf);
        db->buf = NULL;
        db->buf_cap = 0;
        db->stats.path_filters = db->n_filters;
        db->stats.load_usec = now_monotonic_usec() - start;
        db->stats.load_cpu_usec = thread_cpu_usec() - start_cpu;
        *ret = TAKE_PTR(db);
        return 0;
}

DpkgDb *dpkg_db_free(DpkgDb *db) {
        if (!db)
                return NULL;
        free(db->admindir);
        free(db->confdir);
        free(db->arena);
        free(db->slots);
        free(db->flags);
        free(db->md5);
        for (size_t i = 0; i < db->n_filters; i++)
                free(db->filters[i].glob);
        free(db->filters);
        for (size_t i = 0; i < db->n_diversions; i++) {
                free(db->diversions[i].from);
                free(db->diversions[i].to);
                free(db->diversions[i].by);
        }
        free(db->diversions);
        free(db->buf);
        free(db);
        return NULL;
}

DpkgClass dpkg_db_classify(const DpkgDb *db, const char *path, size_t len, bool is_dir) {
        /* the database itself: what dpkg needs to know what is installed */
        if (len >= db->admindir_len && memcmp(path, db->admindir, db->admindir_len) == 0 &&
            (len == db->admindir_len || path[db->admindir_len] == '/'))
                return DPKG_MANAGED;
        /* /bin -> usr/bin: the layout of the system, which a reinstall
         * makes; restoring it over a running system could only hurt */
        for (size_t i = 0; i < db->n_aliases; i++)
                if (len == db->aliases[i].len && memcmp(path, db->aliases[i].path, len) == 0)
                        return DPKG_PACKAGED;

        ssize_t k = table_find(db, path, len, path_hash(path, len));
        if (k < 0)
                return DPKG_UNOWNED;
        uint8_t f = db->flags[k];
        if (f & (PATH_ALTERNATIVE | PATH_DIVERTED))
                return DPKG_MANAGED;
        if (f & PATH_CONFFILE)
                return DPKG_CONFFILE;
        if (f & PATH_LISTED)
                /* path-exclude=: dpkg never put it there, and will not put it back */
                return !is_dir && db->n_filters > 0 && path_filtered(db, db->arena + db->slots[k].off) ?
                        DPKG_UNOWNED : DPKG_PACKAGED;
        return DPKG_UNOWNED;
}

const uint8_t *dpkg_db_md5(const DpkgDb *db, const char *path, size_t len) {
        if (!db->md5)
                return NULL;
        ssize_t k = table_find(db, path, len, path_hash(path, len));
        return k >= 0 && (db->flags[k] & PATH_HAS_MD5) ? db->md5[k] : NULL;
}

void dpkg_db_stats(const DpkgDb *db, DpkgDbStats *ret) {
        *ret = db->stats;
}

const char *dpkg_db_admindir(const DpkgDb *db) {
        return db->admindir;
}
