/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>

#include "fileio.h"
#include "select-walk.h"

/* One directory on the way down: open, being read. */
typedef struct Level {
        DIR *dir;
        struct stat st;
        size_t path_len;                /* its path is path[0..path_len) */
        size_t name_off;                /* its name in its parent: path + name_off */
        bool pending;                   /* packaged: stored only for what is kept below */
        /* sorted walk: the directory's names, read whole, in order */
        bool sorted;
        struct SortedName **names;
        size_t n_names, next;
        /* prefetching walk: the names read whole (sorted or not), the files
         * of two chunks of them read ahead, the current one and the next */
        struct Ahead *ahead;
        unsigned current;
} Level;

/* PREFETCH_CHUNK names of a directory whose regular files are read ahead. */
typedef struct Ahead {
        PrefetchChunk *chunk;
        size_t begin, end;              /* the names it covers: names[begin..end) */
        unsigned char slots[PREFETCH_CHUNK];    /* per name: its place in the chunk + 1, 0: not read ahead */
        const char *regular[PREFETCH_CHUNK];
} Ahead;

typedef struct SortedName {
        unsigned char type;             /* d_type */
        char name[];
} SortedName;

typedef struct Walk {
        SelectPolicy *policy;
        const SelectVisitor *v;
        const char *source;
        char path[PATH_MAX];
        size_t len;
        Level *levels;
        size_t depth, cap;
} Walk;

static void warnf(Walk *w, const char *format, ...) _printf_(2, 3);
static void warnf(Walk *w, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        if (!w->v->warning)
                return;
        va_start(ap, format);
        if (vasprintf(&msg, format, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (msg)
                w->v->warning(w->path, msg, w->v->userdata);
}

static int level_fd(const Walk *w, size_t i) {
        return i == 0 ? AT_FDCWD : dirfd(w->levels[i - 1].dir);
}

static mode_t mode_from_dtype(unsigned char t) {
        switch (t) {
        case DT_REG:  return S_IFREG;
        case DT_DIR:  return S_IFDIR;
        case DT_LNK:  return S_IFLNK;
        case DT_FIFO: return S_IFIFO;
        case DT_SOCK: return S_IFSOCK;
        case DT_CHR:  return S_IFCHR;
        case DT_BLK:  return S_IFBLK;
        default:      return 0;
        }
}

static int compare_names(const void *a, const void *b) {
        return strcmp((*(SortedName * const *) a)->name, (*(SortedName * const *) b)->name);
}

static void free_names(Level *l) {
        for (size_t i = 0; i < l->n_names; i++)
                free(l->names[i]);
        free(l->names);
        l->names = NULL;
        l->n_names = l->next = 0;
}

/* Reads the whole directory L, and sorts its names for a sorted walk. A
 * read error is warned about (at w->path, the directory); what was read is
 * walked. */
static int read_names(Walk *w, Level *l) {
        size_t allocated = 0;
        struct dirent *de;

        for (;;) {
                errno = 0;
                de = readdir(l->dir);
                if (!de) {
                        if (errno != 0)
                                warnf(w, "%s: cannot read directory: %m, some of its contents are not archived", w->path);
                        break;
                }
                const char *n = de->d_name;
                if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0)))
                        continue;
                if (l->n_names == allocated) {
                        size_t a = MAX((size_t) 64, 2 * allocated);
                        SortedName **grown = reallocarray(l->names, a, sizeof *grown);
                        if (!grown)
                                return -ENOMEM;
                        l->names = grown;
                        allocated = a;
                }
                size_t nl = strlen(n);
                SortedName *sn = malloc(sizeof *sn + nl + 1);
                if (!sn)
                        return -ENOMEM;
                sn->type = de->d_type;
                memcpy(sn->name, n, nl + 1);
                l->names[l->n_names++] = sn;
        }
        if (l->sorted && l->n_names > 1)
                qsort(l->names, l->n_names, sizeof *l->names, compare_names);
        return 0;
}

static void warn_unreadable(Walk *w, Level *l) {
        w->path[l->path_len] = 0;
        w->len = l->path_len;
        warnf(w, "%s: cannot read directory: %m, some of its contents are not archived", w->path);
}

/* Queues the regular files among names[BEGIN..) (a chunk of them) in A. */
static void queue_ahead(Walk *w, Level *l, Ahead *a, size_t begin) {
        size_t n = 0;

        prefetch_release(a->chunk);
        a->chunk = NULL;
        a->begin = begin;
        a->end = MIN(begin + PREFETCH_CHUNK, l->n_names);
        for (size_t i = a->begin; i < a->end; i++) {
                a->slots[i - begin] = 0;
                if (l->names[i]->type == DT_REG) {
                        a->regular[n++] = l->names[i]->name;
                        a->slots[i - begin] = (unsigned char) n;
                }
        }
        /* without memory for it, this chunk is simply not read ahead */
        if (n > 0 && prefetch_submit(w->v->prefetch, dirfd(l->dir), a->regular, n, &a->chunk) < 0)
                memset(a->slots, 0, sizeof a->slots);
}

static int start_ahead(Walk *w, Level *l) {
        l->ahead = calloc(2, sizeof *l->ahead);
        if (!l->ahead)
                return -ENOMEM;
        queue_ahead(w, l, &l->ahead[0], 0);
        queue_ahead(w, l, &l->ahead[1], l->ahead[0].end);
        return 0;
}

static void free_ahead(Level *l) {
        if (!l->ahead)
                return;
        prefetch_release(l->ahead[0].chunk);
        prefetch_release(l->ahead[1].chunk);
        free(l->ahead);
        l->ahead = NULL;
}

/* What was read ahead of names[I], the name after the previous one. */
static const PrefetchedFile *ahead_of(Walk *w, Level *l, size_t i) {
        Ahead *a = &l->ahead[l->current];
        if (i >= a->end) {
                /* the next chunk becomes the current one; this one queues the chunk after it */
                Ahead *next = &l->ahead[!l->current];
                queue_ahead(w, l, a, next->end);
                l->current = !l->current;
                a = next;
        }
        unsigned slot = a->slots[i - a->begin];
        return slot > 0 ? prefetch_get(a->chunk, slot - 1) : NULL;
}

/* The next entry of directory L, NULL at its end (errors warned). */
static const char *next_name(Walk *w, Level *l, unsigned char *ret_type, const PrefetchedFile **ret_prefetched) {
        *ret_prefetched = NULL;
        if (l->sorted || l->ahead) {
                if (l->next == l->n_names)
                        return NULL;
                if (l->ahead)
                        *ret_prefetched = ahead_of(w, l, l->next);
                *ret_type = l->names[l->next]->type;
                return l->names[l->next++]->name;
        }
        for (;;) {
                errno = 0;
                struct dirent *de = readdir(l->dir);
                if (!de) {
                        if (errno != 0)
                                warn_unreadable(w, l);
                        return NULL;
                }
                const char *n = de->d_name;
                if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0)))
                        continue;
                *ret_type = de->d_type;
                return n;
        }
}

/* Stores the packaged directories above the entry about to be stored
 * (outermost first), so that it restores under their owner and mode. */
static int store_pending_parents(Walk *w) {
        for (size_t i = 0; i < w->depth; i++) {
                Level *l = &w->levels[i];
                if (!l->pending)
                        continue;
                l->pending = false;
                char saved = w->path[l->path_len];
                w->path[l->path_len] = 0;
                SelectDecision d = { .reason = SELECT_PARENT, .descend = true };
                SelectEntry e = {
                        .path = w->path,
                        .len = l->path_len,
                        .dir_fd = level_fd(w, i),
                        .name = i == 0 ? w->path : w->path + l->name_off,
                        .fd = dirfd(l->dir),
                        .st = &l->st,
                        .have_stat = true,
                        .decision = &d,
                        .level = (int) i,
                };
                int r = w->v->entry(&e, w->v->userdata);
                w->path[l->path_len] = saved;
                if (r < 0)
                        return r;
        }
        return 0;
}

static int store(Walk *w, SelectEntry *e) {
        int r = store_pending_parents(w);
        if (r < 0)
                return r;
        return w->v->entry(e, w->v->userdata);
}

/* Takes FD, also on failure. */
static int push(Walk *w, int fd, const struct stat *st, size_t name_off, bool pending) {
        if (w->depth == w->cap) {
                size_t cap = MAX(w->cap * 2, (size_t) 32);
                Level *l = realloc(w->levels, cap * sizeof *l);
                if (!l)
                        return -ENOMEM;
                w->levels = l;
                w->cap = cap;
        }
        DIR *d = fdopendir(fd);
        if (!d) {
                int r = negative_errno();
                safe_close(fd);
                return r;
        }
        Level *l = &w->levels[w->depth++];
        *l = (Level) {
                .dir = d,
                .st = *st,
                .path_len = w->len,
                .name_off = name_off,
                .pending = pending,
                .sorted = w->v->sorted,
        };
        bool prefetching = w->v->prefetch && w->v->regular_unstated;
        if (!l->sorted && !prefetching)
                return 0;
        int r = read_names(w, l);
        if (r >= 0 && prefetching)
                r = start_ahead(w, l);
        return r;
}

static void pop(Walk *w) {
        Level *l = &w->levels[--w->depth];
        free_ahead(l);
        free_names(l);
        closedir(l->dir);
        w->len = l->path_len;
        w->path[w->len] = 0;
}

/* A directory seen twice on the way down (a bind mount inside itself). */
static bool is_cycle(const Walk *w, const struct stat *st) {
        for (size_t i = 0; i < w->depth; i++)
                if (w->levels[i].st.st_dev == st->st_dev && w->levels[i].st.st_ino == st->st_ino)
                        return true;
        return false;
}

static int open_directory(int dir_fd, const char *name) {
        return openat_noatime(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
}

/* The entry at w->path (NAME in DIR_FD) of LEVEL; ST holds what is known
 * so far (the type, or a full lstat if HAVE_STAT). */
static int visit(Walk *w, int dir_fd, const char *name, size_t name_off, int level, struct stat *st, bool have_stat,
                 const PrefetchedFile *prefetched) {
        SelectDecision d;
        int r;

        if (!have_stat && (S_ISDIR(st->st_mode) || (st->st_mode & S_IFMT) == 0)) {
                if (fstatat(dir_fd, name, st, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT) < 0) {
                        if (errno == ENOENT)
                                warnf(w, "%s: vanished before it could be read, not archived", w->path);
                        else
                                warnf(w, "%s: cannot stat: %m, not archived", w->path);
                        return 0;
                }
                have_stat = true;
        }

        SelectCandidate c = {
                .path = w->path,
                .len = w->len,
                .source = w->source,
                .level = level,
                .st = st,
                .parent_dev = level > 0 ? w->levels[w->depth - 1].st.st_dev : 0,
                .dir_fd = dir_fd,
                .name = name,
        };
        select_policy_check(w->policy, &c, &d);
        SelectEntry e = {
                .path = w->path,
                .len = w->len,
                .dir_fd = dir_fd,
                .name = name,
                .fd = -EBADF,
                .st = st,
                .have_stat = have_stat,
                .prefetched = prefetched,
                .decision = &d,
                .level = level,
        };
        bool stored = select_reason_stored(d.reason);
        if (!stored && !d.descend) {
                if (w->v->skipped)
                        w->v->skipped(&e, w->v->userdata);
                return 0;
        }

        if (!S_ISDIR(st->st_mode)) {
                bool wanted = w->v->need_stat && !(w->v->regular_unstated && S_ISREG(st->st_mode));
                if (!have_stat && wanted) {
                        if (fstatat(dir_fd, name, st, AT_SYMLINK_NOFOLLOW) < 0) {
                                if (errno == ENOENT)
                                        warnf(w, "%s: vanished before it could be read, not archived", w->path);
                                else
                                        warnf(w, "%s: cannot stat: %m, not archived", w->path);
                                return 0;
                        }
                        e.have_stat = true;
                }
                return store(w, &e);
        }

        _cleanup_close_ int fd = open_directory(dir_fd, name);
        struct stat opened;
        if (fd < 0) {
                int k = errno;
                if (k == ENOENT) {
                        warnf(w, "%s: vanished before it could be read, not archived", w->path);
                        return 0;
                }
                /* unreadable: the directory itself is still stored */
                r = stored ? store(w, &e) : 0;
                errno = k;
                warnf(w, "%s: cannot read directory: %m, its contents are not archived", w->path);
                return r < 0 ? r : 0;
        }
        if (fstat(fd, &opened) < 0 || opened.st_dev != st->st_dev || opened.st_ino != st->st_ino) {
                warnf(w, "%s: replaced while archiving, not archived", w->path);
                return 0;
        }
        *st = opened;
        e.fd = fd;
        e.have_stat = true;

        if (is_cycle(w, st)) {
                r = stored ? store(w, &e) : 0;
                warnf(w, "%s: directory cycle, its contents are not archived again", w->path);
                return r < 0 ? r : 0;
        }
        if (stored) {
                r = store(w, &e);
                if (r < 0)
                        return r;
                if (r == SELECT_WALK_PRUNE)
                        return 0;
        }
        return push(w, TAKE_FD(fd), st, name_off, !stored);
}

static int walk_below(Walk *w) {
        int r;

        while (w->depth > 0) {
                Level *top = &w->levels[w->depth - 1];
                unsigned char type = DT_UNKNOWN;
                const PrefetchedFile *prefetched;
                const char *n = next_name(w, top, &type, &prefetched);
                if (!n) {
                        pop(w);
                        continue;
                }

                size_t base = top->path_len, nl = strlen(n);
                bool root = base == 1;  /* "/": no second slash */
                if (base + !root + nl >= sizeof w->path) {
                        w->path[base] = 0;
                        w->len = base;
                        warnf(w, "%s/%s: path longer than %d bytes, not archived", w->path, n, PATH_MAX - 1);
                        continue;
                }
                if (!root)
                        w->path[base] = '/';
                memcpy(w->path + base + !root, n, nl + 1);
                w->len = base + !root + nl;

                /* only the type, and (no mount point) the parent's device */
                struct stat st = { .st_mode = mode_from_dtype(type), .st_dev = top->st.st_dev };
                r = visit(w, dirfd(top->dir), w->path + base + !root, base + !root, (int) w->depth, &st, false,
                          prefetched);
                if (r < 0)
                        return r;
        }
        return 0;
}

int select_walk(SelectPolicy *p, const char *given, const SelectVisitor *v, char **ret_error) {
        _cleanup_free_ char *resolved = NULL;
        const char *source = given;
        struct stat st;
        int r;

        if (lstat(given, &st) < 0) {
                r = negative_errno();
                return asprintf(ret_error, "Source %s: %s", given, strerror(-r)) < 0 ? -ENOMEM : r;
        }
        if (S_ISLNK(st.st_mode)) {
                resolved = realpath(given, NULL);
                if (!resolved) {
                        r = negative_errno();
                        return asprintf(ret_error, "Source %s is a symlink that cannot be resolved: %s",
                                        given, strerror(-r)) < 0 ? -ENOMEM : r;
                }
                source = resolved;
                if (lstat(source, &st) < 0) {
                        r = negative_errno();
                        return asprintf(ret_error, "Source %s: %s", source, strerror(-r)) < 0 ? -ENOMEM : r;
                }
        }
        size_t len = strlen(source);
        while (len > 1 && source[len - 1] == '/')
                len--;
        if (len >= PATH_MAX)
                return asprintf(ret_error, "Source %s: path too long", source) < 0 ? -ENOMEM : -ENAMETOOLONG;

        Walk w = { .policy = p, .v = v };
        memcpy(w.path, source, len);
        w.path[len] = 0;
        w.len = len;
        /* the walk writes below w.path[len]; the source's own path stays */
        char source_copy[PATH_MAX];
        memcpy(source_copy, w.path, len + 1);
        w.source = source_copy;

        r = visit(&w, AT_FDCWD, source_copy, 0, 0, &st, true, NULL);
        if (r >= 0)
                r = walk_below(&w);
        while (w.depth > 0)
                pop(&w);
        free(w.levels);
        return r;
}
