/* SPDX-License-Identifier: MIT */
#pragma once

/* State shared by the verbs of alexandria-ctl: the parsed command line,
 * where things live, and what the dispatcher set up as the verb's table
 * entry asked (alexandria-ctl.c). Each verb is int verb_x(int argc, char
 * **argv) and returns an exit code of exit-codes.h, having said what went
 * wrong. The helpers below, used by several verbs, live in ctl-util.c. */

#include <stdint.h>
#include <systemd/sd-bus.h>
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
        bool skip_packaged;     /* --skip-packaged */
        bool verify_packaged;   /* --verify-packaged */
        char **expects;         /* --expect PATH… */
        char **copy_to;         /* --copy-to URL (repeatable) */
        const char *copy_keep;
        char **dump;            /* --dump: Dump= */
        char **lock_files;      /* --lock-file: LockFile= */
        /* restore */
        const char *to;
        const char *at;
        bool overwrite;
        bool list_entries;
        bool dry_run;
        bool dumps;             /* restore --dumps */
        const char *key;        /* --key FILE for encrypted archives */
        bool notify;            /* status --notify: the watchdog */
        bool json;              /* doctor --json */
        bool unexpected;        /* files --unexpected */
        bool explain;           /* files --explain */
        bool null_separator;    /* files -0 */
        bool archives;          /* delete --archives */
        bool yes;               /* delete --archives --yes: no question */
} CtlArgs;

extern CtlArgs arg;
extern Paths paths;

/* Set up by the dispatcher for verbs whose table entry asks for it. */
typedef struct CtlContext {
        int lock_fd;                    /* VERB_LOCK: the lock on schedules.d, held until exit */
        ScheduleDir schedules;          /* VERB_SCHEDULES, loaded after the lock */
        sd_bus *bus;                    /* VERB_BUS: the manager; NULL with --no-reload */
} CtlContext;
extern CtlContext ctx;

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
int verb_prune(int argc, char **argv);
int verb_notify(int argc, char **argv);
int verb_reload(int argc, char **argv);
int verb_report_failure(int argc, char **argv);
int verb_files(int argc, char **argv);
int verb_copy(int argc, char **argv);
int verb_serve(int argc, char **argv);
int verb_prepare(int argc, char **argv);

/* Loads the schedules directory; logs and returns a negative errno on
 * failure (exit_code_for() makes a directory that is not trusted a 2, see
 * schedule-dir.h). */
int ctl_load_schedules(ScheduleDir *ret);
/* INDEX or NAME → entry; logs and returns -ENOENT if there is none. */
int ctl_find_schedule(const ScheduleDir *d, const char *index_or_name, const ScheduleEntry **ret);
/* The same, for a schedule that loaded: logs why a broken one is refused (-EINVAL). */
int ctl_find_valid_schedule(const ScheduleDir *d, const char *index_or_name, const Schedule **ret);
/* Serializes every change to the schedules directory (creating it first):
 * concurrent creates never lose a schedule. Logs on failure. */
int ctl_lock_config(int *ret_fd);
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
/* Writes S's metrics where config_metrics_directory() says (settings.h). */
int ctl_write_metrics(const Schedule *s, bool overdue);
int ctl_remove_metrics(const char *name);
/* The watchdog's pass: the metrics of schedule files removed by hand go. */
int ctl_prune_metrics(void);
/* FullEvery= chains (verb-chain.c): whether ARCHIVE is named incremental;
 * restore its restore point (O as for restore_archive()), verify its chain,
 * and what LIST[I] is ("full", "incremental on NAME-…"); exit codes. */
struct RestoreOptions;
struct ArchiveInfo;
bool ctl_archive_is_incremental(const char *archive);
int ctl_restore_chain(const Schedule *s, const char *archive, const struct RestoreOptions *o);
int ctl_verify_chain(const Schedule *s, const char *archive);
int ctl_archive_kind(const struct ArchiveInfo *list, size_t n, size_t i, char **ret);
/* Result= and ExecMainStatus= of SERVICE, as the manager says. */
int ctl_service_result(sd_bus *bus, const char *service, char **ret_result, int32_t *ret_status, sd_bus_error *error);
/* S for a terminal: escaped (escape.h) when stdout is one, else as it is;
 * *buf owns what needs freeing. Never NULL ("?" on OOM). */
const char *ctl_printable(const char *s, char **buf);
/* The one-line trend of NAME's recent runs (size, duration) that status NAME ends with. */
void ctl_print_trend(const char *name);
/* For exit codes: -EINVAL/-ENOENT & co mean bad input (2), anything else 1. */
int exit_code_for(int r);
