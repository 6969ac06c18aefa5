/* SPDX-License-Identifier: MIT */
#pragma once

/* State shared by the verbs of alexandria-ctl: the parsed command line and
 * where things live. Each verb is int verb_x(int argc, char **argv) and
 * returns an exit code of exit-codes.h, having said what went wrong. */

#include <stdint.h>
#include "exit-codes.h"
#include "encryption.h"
#include "locations.h"
#include "schedule-dir.h"

typedef struct CtlArgs {
        bool user;
        const char *config_dir;
        bool no_reload;         /* write files only, do not talk to the manager */
        bool here;              /* run --here */
        bool long_format;       /* backups -l */
        /* create NAME --…: the long form */
        const char *on_calendar;
        char **sources;
        char **excludes;
        const char *destination;
        const char *compression;
        const char *keep;
        char **copy_to;         /* --copy-to URL (repeatable) */
        const char *copy_keep;
        /* restore */
        const char *to;
        const char *at;
        bool overwrite;
        bool list_entries;
        bool dry_run;
        const char *key;        /* --key FILE for encrypted archives */
        bool notify;            /* status --notify: the watchdog */
        bool json;              /* doctor --json */
} CtlArgs;

extern CtlArgs arg;
extern Paths paths;

int verb_create(int argc, char **argv);
int verb_delete(int argc, char **argv);
int verb_list(int argc, char **argv);
int verb_start(int argc, char **argv);
int verb_stop(int argc, char **argv);
int verb_run(int argc, char **argv);
int verb_status(int argc, char **argv);
int verb_doctor(int argc, char **argv);
int verb_backups(int argc, char **argv);
int verb_logs(int argc, char **argv);
int verb_history(int argc, char **argv);
int verb_restore(int argc, char **argv);
int verb_verify(int argc, char **argv);
int verb_keygen(int argc, char **argv);
int verb_notify(int argc, char **argv);
int verb_reload(int argc, char **argv);
int verb_report_failure(int argc, char **argv);
int verb_copy(int argc, char **argv);
int verb_serve(int argc, char **argv);

/* Loads the schedules directory; logs and returns an exit code on failure. */
int ctl_load_schedules(ScheduleDir *ret);
/* INDEX or NAME → entry; logs and returns -ENOENT if there is none. */
int ctl_find_schedule(const ScheduleDir *d, const char *index_or_name, const ScheduleEntry **ret);
/* The same, for a schedule that loaded: logs why a broken one is refused (-EINVAL). */
int ctl_find_valid_schedule(const ScheduleDir *d, const char *index_or_name, const Schedule **ret);
/* The key for ARCHIVE (of schedule S, if known): --key FILE, else the
 * schedule's KeyFile=; none (*ret = NULL) for a plain archive. Logs and
 * returns a negative errno if it cannot be loaded. */
int ctl_load_key(const Schedule *s, const char *archive, CryptKeySource **ret);
/* Sends a notification through S's channels and records the outcome in
 * STATE (a failed channel is kept there for status and doctor). */
struct ScheduleState;
typedef enum NotifyEvent NotifyEvent;
struct NotifyMessage;
int ctl_notify(const Schedule *s, NotifyEvent e, const struct NotifyMessage *m, struct ScheduleState *state);
/* Writes S's metrics if alexandria.conf has [Metrics] Directory=. */
int ctl_write_metrics(const Schedule *s, bool overdue);
/* The one-line trend of NAME's recent runs (size, duration) that status NAME ends with. */
void ctl_print_trend(const char *name);
/* For exit codes: -EINVAL/-ENOENT & co mean bad input (2), anything else 1. */
int exit_code_for(int r);
