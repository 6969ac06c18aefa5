/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "fileio.h"
#include "path-util.h"
#include "record.h"

#define RECORD_SIZE_MAX (256 * 1024)

static const char *const run_result_table[_RUN_RESULT_MAX] = {
        [RUN_SUCCEEDED] = "succeeded",
        [RUN_WARNINGS]  = "warnings",
        [RUN_FAILED]    = "failed",
};

DEFINE_STRING_TABLE_LOOKUP(run_result, RunResult);

void record_done(RunRecord *r) {
        free(r->schedule);
        free(r->invocation);
        free(r->kind);
        free(r->archive);
        strv_free(r->warning_messages);
        strv_free(r->copies);
        strv_free(r->sources);
        free(r->error);
        free(r->unexpected_sha256);
        free(r->shrunk);
        *r = RUN_RECORD_NULL;
}

void record_list_free(RunRecord *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                record_done(&list[i]);
        free(list);
}

/* ---- text ---- */

static void put(FILE *f, const char *key, const char *value) {
        if (!value)
                return;
        fprintf(f, "%s=", key);
        for (const char *p = value; *p; p++)
                if (*p == '\\')
                        fputs("\\\\", f);
                else if (*p == '\n')
                        fputs("\\n", f);
                else if (*p == '\r')
                        fputs("\\r", f);
                else
                        fputc(*p, f);
        fputc('\n', f);
}

static void put_u64(FILE *f, const char *key, uint64_t v) {
        fprintf(f, "%s=%" PRIu64 "\n", key, v);
}

static char *unescape(const char *v) {
        char *out = malloc(strlen(v) + 1), *o = out;
        if (!out)
                return NULL;
        for (const char *p = v; *p; p++) {
                if (*p != '\\' || !p[1]) {
                        *o++ = *p;
                        continue;
                }
                p++;
                *o++ = *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p;
        }
        *o = 0;
        return out;
}

static int parse_u64(const char *v, uint64_t *ret) {
        char *end;
        errno = 0;
        unsigned long long u = strtoull(v, &end, 10);
        if (errno != 0 || end == v || *end != 0 || *v == '-')
                return -EBADMSG;
        *ret = u;
        return 0;
}

int record_source_format(uint64_t files, const char *path, char **ret) {
        return asprintf(ret, "%" PRIu64 " %s", files, path) < 0 ? -ENOMEM : 0;
}

int record_source_parse(const char *line, uint64_t *ret_files, const char **ret_path) {
        const char *space = strchr(line, ' ');
        if (!space || space == line || space[1] != '/')
                return -EBADMSG;
        char digits[24];
        size_t n = (size_t) (space - line);
        if (n >= sizeof digits)
                return -EBADMSG;
        memcpy(digits, line, n);
        digits[n] = 0;
        int r = parse_u64(digits, ret_files);
        if (r < 0)
                return r;
        *ret_path = space + 1;
        return 0;
}

static int set_string(char **field, const char *v) {
        char *s = unescape(v);
        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

/* Every key a record may hold, and where its value goes. */
typedef enum { FIELD_STRING, FIELD_U64, FIELD_LIST, FIELD_RESULT, FIELD_EXIT_STATUS } FieldType;

typedef struct RecordField {
        const char *key;
        FieldType type;
        size_t offset;
        /* written only when this says so (NULL: always; strings: when set) */
        bool (*present)(const RunRecord *r);
} RecordField;

/* a restore point other than what was stored: FullEvery= runs only */
static bool has_point(const RunRecord *r) {
        return r->point_files > 0 || r->point_bytes > 0;
}

static bool has_source_files(const RunRecord *r) {
        return r->archive && r->source_files != SOURCE_FILES_UNKNOWN;
}

/* Expect= was set: the count means something, even 0 */
static bool has_unexpected(const RunRecord *r) {
        return r->unexpected_sha256;
}

#define FIELD(k, t, member, ...) { k, t, offsetof(RunRecord, member), __VA_ARGS__ }
static const RecordField record_fields[] = {
        FIELD("SCHEDULE", FIELD_STRING, schedule),
        FIELD("INVOCATION", FIELD_STRING, invocation),
        FIELD("START_USEC", FIELD_U64, start_usec),
        FIELD("END_USEC", FIELD_U64, end_usec),
        FIELD("RESULT", FIELD_RESULT, result),
        FIELD("EXIT_STATUS", FIELD_EXIT_STATUS, exit_status),
        FIELD("KIND", FIELD_STRING, kind),
        FIELD("ARCHIVE", FIELD_STRING, archive),
        FIELD("FILES", FIELD_U64, files),
        FIELD("BYTES_READ", FIELD_U64, bytes_read),
        FIELD("ARCHIVE_BYTES", FIELD_U64, archive_bytes),
        FIELD("WARNINGS", FIELD_U64, warnings),
        FIELD("WARNING", FIELD_LIST, warning_messages),
        FIELD("PRUNED", FIELD_U64, pruned),
        FIELD("POINT_FILES", FIELD_U64, point_files, has_point),
        FIELD("POINT_BYTES", FIELD_U64, point_bytes, has_point),
        FIELD("SOURCE_FILES", FIELD_U64, source_files, has_source_files),
        FIELD("SOURCE", FIELD_LIST, sources),
        FIELD("COPY", FIELD_LIST, copies),
        FIELD("ERROR", FIELD_STRING, error),
        FIELD("UNEXPECTED", FIELD_U64, unexpected, has_unexpected),
        FIELD("UNEXPECTED_SHA256", FIELD_STRING, unexpected_sha256),
        FIELD("SHRUNK", FIELD_STRING, shrunk),
};
#undef FIELD

static void format_field(FILE *f, const RunRecord *r, const RecordField *field) {
        const void *at = (const uint8_t *) r + field->offset;

        if (field->present && !field->present(r))
                return;
        switch (field->type) {
        case FIELD_STRING:
                put(f, field->key, *(char * const *) at);
                return;
        case FIELD_U64:
                put_u64(f, field->key, *(const uint64_t *) at);
                return;
        case FIELD_LIST:
                STRV_FOREACH(v, *(char ** const *) at)
                        put(f, field->key, *v);
                return;
        case FIELD_RESULT:
                put(f, field->key, run_result_to_string(*(const RunResult *) at));
                return;
        case FIELD_EXIT_STATUS:
                fprintf(f, "%s=%i\n", field->key, *(const int *) at);
                return;
        }
}

int record_format(const RunRecord *r, char **ret) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(record_fields); i++)
                format_field(f, r, &record_fields[i]);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

static int parse_field(RunRecord *r, const RecordField *field, const char *v) {
        void *at = (uint8_t *) r + field->offset;
        uint64_t u = 0;
        char *s;
        int k;

        switch (field->type) {
        case FIELD_STRING:
                return set_string(at, v);
        case FIELD_U64:
                return parse_u64(v, at);
        case FIELD_LIST:
                s = unescape(v);
                return s ? strv_push(at, s) : -ENOMEM;
        case FIELD_RESULT:
                return (*(RunResult *) at = run_result_from_string(v)) < 0 ? -EBADMSG : 0;
        case FIELD_EXIT_STATUS:
                k = parse_u64(v, &u);
                if (k >= 0 && u > 255)
                        return -EBADMSG;
                *(int *) at = (int) u;
                return k;
        }
        return -EINVAL;
}

int record_parse(const char *text, RunRecord *ret) {
        _cleanup_(record_done) RunRecord r = RUN_RECORD_NULL;
        _cleanup_free_ char *copy = strdup(text);
        int k = 0;

        if (!copy)
                return -ENOMEM;
        for (char *line = copy, *next; line && *line && k >= 0; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                char *eq = strchr(line, '=');
                if (!eq)
                        return -EBADMSG;
                *eq = 0;
                const char *key = line, *v = eq + 1;

                const RecordField *field = NULL;
                for (size_t i = 0; i < ELEMENTSOF(record_fields) && !field; i++)
                        if (streq(key, record_fields[i].key))
                                field = &record_fields[i];
                if (field)
                        k = parse_field(&r, field, v);
                /* else: a key of a newer version */
        }
        if (k < 0)
                return k;
        if (!r.schedule || r.result < 0 || r.start_usec == 0)
                return -EBADMSG;
        *ret = r;
        r = RUN_RECORD_NULL;
        return 0;
}

/* ---- files ---- */

static char *records_dir(const char *state_dir, const char *name) {
        _cleanup_free_ char *runs = path_join(state_dir, "runs");
        return runs ? path_join(runs, name) : NULL;
}

static bool is_record_name(const char *n) {
        return n[0] != '.' && endswith(n, ".run");
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

/* The record file names in DIR, sorted (= oldest first). */
static int list_names(const char *dir, char ***ret, size_t *ret_n) {
        _cleanup_closedir_ DIR *d = opendir(dir);
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0;
        struct dirent *de;

        if (!d) {
                if (errno != ENOENT)
                        return negative_errno();
                *ret = NULL, *ret_n = 0;
                return 0;
        }
        while ((errno = 0, de = readdir(d)))
                if (is_record_name(de->d_name)) {
                        int r = strv_extend(&names, de->d_name);
                        if (r < 0)
                                return r;
                        n++;
                }
        if (errno != 0)
                return negative_errno();
        if (n > 0)
                qsort(names, n, sizeof *names, compare_names);
        *ret = TAKE_PTR(names);
        *ret_n = n;
        return 0;
}

static int load_one(const char *dir, const char *file, RunRecord *ret) {
        _cleanup_free_ char *path = path_join(dir, file), *text = NULL;
        if (!path)
                return -ENOMEM;
        int r = read_file_full(path, RECORD_SIZE_MAX, &text);
        if (r < 0)
                return r;
        return record_parse(text, ret);
}

int record_save(const char *state_dir, const RunRecord *rec) {
        _cleanup_free_ char *dir = records_dir(state_dir, rec->schedule), *text = NULL, *path = NULL;
        char file[64];
        struct tm tm;
        int r;

        if (!dir)
                return -ENOMEM;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        time_t t = (time_t) (rec->start_usec / USEC_PER_SEC);
        if (!gmtime_r(&t, &tm))
                return -EINVAL;
        size_t n = strftime(file, sizeof file, "%Y%m%dT%H%M%S", &tm);
        if (n == 0 || snprintf(file + n, sizeof file - n, ".%06" PRIu64 "Z.run", rec->start_usec % USEC_PER_SEC) < 0)
                return -EINVAL;
        r = record_format(rec, &text);
        if (r < 0)
                return r;
        if (!(path = path_join(dir, file)))
                return -ENOMEM;
        r = write_file_atomic(path, text, 0600);
        if (r < 0)
                return r;

        _cleanup_strv_free_ char **names = NULL;
        size_t count;
        if (list_names(dir, &names, &count) >= 0)
                for (size_t i = 0; i + RECORDS_KEPT < count; i++) {
                        _cleanup_free_ char *old = path_join(dir, names[i]);
                        if (old)
                                (void) unlink(old);
                }
        return 0;
}

int record_forget(const char *state_dir, const char *name) {
        _cleanup_free_ char *dir = records_dir(state_dir, name);
        _cleanup_strv_free_ char **names = NULL;
        size_t count;

        if (!dir)
                return -ENOMEM;
        int r = list_names(dir, &names, &count);
        if (r < 0)
                return r;
        for (size_t i = 0; i < count; i++) {
                _cleanup_free_ char *path = path_join(dir, names[i]);
                if (!path)
                        return -ENOMEM;
                r = unlink_if_present(path);
                if (r < 0)
                        return r;
        }
        return rmdir(dir) < 0 && errno != ENOENT ? negative_errno() : 0;
}

int record_list(const char *state_dir, const char *name, size_t max, RunRecord **ret, size_t *ret_n) {
        _cleanup_free_ char *dir = records_dir(state_dir, name);
        _cleanup_strv_free_ char **names = NULL;
        RunRecord *list = NULL;
        size_t count, n = 0;
        int r;

        if (!dir)
                return -ENOMEM;
        r = list_names(dir, &names, &count);
        if (r < 0)
                return r;
        size_t first = count > max ? count - max : 0;
        if (count > first && !(list = calloc(count - first, sizeof *list)))
                return -ENOMEM;
        for (size_t i = first; i < count; i++)
                /* a damaged record is one run less in the history, not an error */
                if (load_one(dir, names[i], &list[n]) >= 0)
                        n++;
        *ret = list;
        *ret_n = n;
        return 0;
}

static int find_newest(const char *state_dir, const char *name, const char *invocation, const char *archive,
                       RunRecord *ret) {
        _cleanup_free_ char *dir = records_dir(state_dir, name);
        _cleanup_strv_free_ char **names = NULL;
        size_t count;
        int r;

        if (!dir)
                return -ENOMEM;
        r = list_names(dir, &names, &count);
        if (r < 0)
                return r;
        for (size_t i = count; i > 0; i--) {
                RunRecord rec = RUN_RECORD_NULL;
                if (load_one(dir, names[i - 1], &rec) < 0)
                        continue;
                if ((!invocation || streq_ptr(rec.invocation, invocation)) &&
                    (!archive || streq_ptr(rec.archive, archive))) {
                        *ret = rec;
                        return 0;
                }
                record_done(&rec);
        }
        return -ENOENT;
}

int record_find(const char *state_dir, const char *name, const char *invocation, RunRecord *ret) {
        return find_newest(state_dir, name, invocation, NULL, ret);
}

int record_find_archive(const char *state_dir, const char *name, const char *archive, RunRecord *ret) {
        return find_newest(state_dir, name, NULL, archive, ret);
}
