/* SPDX-License-Identifier: MIT */
#pragma once

/* Dump=ENTRY COMMAND…: runs COMMAND (no shell) with its standard output
 * going straight into an unnamed O_TMPFILE spool, because a tar header
 * needs the size before the data. Nothing named is ever left on disk, and
 * memory stays flat whatever the size: the command writes into the file,
 * the archive writer reads it back in blocks. The command's standard error
 * goes to the journal, one entry a line, with the schedule's fields (and to
 * stderr when that is not the journal).
 *
 * The command runs in its own process group, so a timeout stops what it
 * started too (pg_dumpall's pg_dump, runuser's child); the group is killed
 * when the command exits, so nothing can write into the spool after its
 * size was taken. */

#include <stdint.h>
#include "schedule.h"

typedef enum DumpEnd {
        DUMP_EXITED,            /* status: exit status */
        DUMP_KILLED,            /* status: signal */
        DUMP_TIMED_OUT,         /* killed after the timeout */
} DumpEnd;

typedef struct DumpResult {
        const char *entry;      /* borrowed from the schedule */
        int fd;                 /* the spool; -EBADF once closed */
        uint64_t size;
        DumpEnd end;
        int status;
        uint64_t duration_usec;
        uint64_t timeout_usec;  /* what it was given, for messages */
        uint64_t finished_realtime_usec;
        char last_message[256]; /* its last line on standard error, for the failure message */
} DumpResult;

typedef struct DumpOptions {
        const char *schedule;   /* for the journal fields */
        int spool_dir_fd;       /* where the unnamed spool is made (the destination) */
        const char *spool_dir;  /* its name, for messages */
        uint64_t timeout_usec;  /* 0: none */
} DumpOptions;

/* Runs D. Returns 0 when the command ran to its end, whatever the outcome
 * (see dump_result_failed()), or a negative errno when it could not be run
 * or spooled, with *ret_error saying why. */
int dump_run(const ScheduleDump *d, const DumpOptions *o, DumpResult *ret, char **ret_error);
/* Whether R is a failed dump; *ret_error then says how, e.g. "Dump
 * pg.sql (pg_dumpall) exited with status 1: pg_dumpall: error: …". */
bool dump_result_failed(const DumpResult *r, const ScheduleDump *d, char **ret_error);
void dump_result_done(DumpResult *r);

/* The dumps stage: every Dump= of S in order, stopping at the first that
 * fails (its message in *ret_error). ON_START is told before each one. */
typedef struct DumpSet {
        DumpResult *results;
        size_t n;
} DumpSet;

int dumps_run_all(const Schedule *s, int spool_dir_fd, void (*on_start)(const char *entry, void *userdata),
                  void *userdata, DumpSet *ret, char **ret_error);
/* The hand-off to the write stage: each dump as .alexandria/dumps/ENTRY,
 * in order, its spool closed (and its space freed) once stored. An empty
 * dump is a warning in REPORT. */
struct ArchiveWriter;
struct RunReport;
int dumps_store(DumpSet *set, struct ArchiveWriter *w, struct RunReport *report, char **ret_error);
void dump_set_done(DumpSet *set);
