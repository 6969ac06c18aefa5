/* SPDX-License-Identifier: MIT */
#pragma once

/* The run record: the outcome of one run, written once by the worker that
 * knows it, read by everything that reports on runs (notifications,
 * metrics, status, run, backups -l, history). One small text file per run,
 *
 *   STATE_DIR/runs/NAME/YYYYmmddTHHMMSS.uuuuuuZ.run      (UTC start time)
 *
 * written atomically, mode 0600 (messages may quote paths), the newest
 * RECORDS_KEPT kept. One KEY=VALUE per line; values escape "\\" and
 * newlines as "\\\\" and "\\n"; readers ignore keys they do not know, so
 * fields can be added. The keys are documented in alexandria-backup(8). */

#include <stdint.h>
#include "macro.h"

#define RECORDS_KEPT 400

typedef enum RunResult {
        RUN_SUCCEEDED,
        RUN_WARNINGS,
        RUN_FAILED,
        _RUN_RESULT_MAX,
        _RUN_RESULT_INVALID = -EINVAL,
} RunResult;

const char *run_result_to_string(RunResult r);
RunResult run_result_from_string(const char *s);

typedef struct RunRecord {
        char *schedule;
        char *invocation;               /* systemd's $INVOCATION_ID, if run by the service */
        uint64_t start_usec, end_usec;  /* realtime */
        RunResult result;
        int exit_status;
        char *kind;                     /* "full" */
        char *archive;                  /* full path of the archive written, or NULL */
        uint64_t files, bytes_read, archive_bytes, warnings, pruned;
        uint64_t point_files, point_bytes;      /* the restore point made (FullEvery=: more than was stored); 0: unknown */
        uint64_t source_files;                  /* of the point: non-directories from the sources, or: */
#define SOURCE_FILES_UNKNOWN UINT64_MAX                 /* a record from before the key */
        char **sources;                 /* the same per source: "FILES PATH" (record_source_parse()) */
        char **warning_messages;        /* the first few, NULL-terminated */
        char **copies;                  /* per CopyTo= target: "ok|failed SENT PRESENT DELETED TARGET[ ERROR]" */
        char *error;                    /* why it failed */
        /* Expect=: files no Expect= covers, and the SHA-256 of their list
         * (unexpected.h); NULL digest: the schedule has no Expect= */
        uint64_t unexpected;
        char *unexpected_sha256;
        char *shrunk;                   /* ShrinkWarn=: "12 files, 4 KiB read; usually …" */
} RunRecord;

#define RUN_RECORD_NULL (RunRecord) { .result = _RUN_RESULT_INVALID, .source_files = SOURCE_FILES_UNKNOWN }

/* A SOURCE= value: "FILES PATH"; *ret_path points into LINE. */
int record_source_format(uint64_t files, const char *path, char **ret);
int record_source_parse(const char *line, uint64_t *ret_files, const char **ret_path);

int record_format(const RunRecord *r, char **ret);
int record_parse(const char *text, RunRecord *ret);

/* Writes R under STATE_DIR and drops the oldest records beyond RECORDS_KEPT. */
int record_save(const char *state_dir, const RunRecord *r);
/* The newest record of NAME (with INVOCATION, if not NULL); -ENOENT if none. */
int record_find(const char *state_dir, const char *name, const char *invocation, RunRecord *ret);
/* At most the newest MAX records of NAME, oldest first (none: *ret_n = 0). */
int record_list(const char *state_dir, const char *name, size_t max, RunRecord **ret, size_t *ret_n);
/* Removes every record of NAME (its history, when its archives are gone). */
int record_forget(const char *state_dir, const char *name);
/* The newest record of NAME that names ARCHIVE (a full path); -ENOENT if none. */
int record_find_archive(const char *state_dir, const char *name, const char *archive, RunRecord *ret);

void record_done(RunRecord *r);
void record_list_free(RunRecord *list, size_t n);
