/* SPDX-License-Identifier: MIT */
#pragma once

/* The schedule model: one schedules.d/NAME.conf file, or the short command
 * line form "path;hh:mm;name". Parsing validates everything a generated unit
 * or the worker will later rely on; errors come back as a message naming the
 * file and line (or the spec and its field), never logged here. */

#include <stdint.h>
#include <sys/types.h>
#include "macro.h"

#define SCHEDULE_NAME_MAX 64
#define SCHEDULE_KEEP_MAX 100000
/* CopyKeep=all: a copy target never deletes (append-only remotes prune themselves). */
#define COPY_KEEP_ALL UINT32_MAX
#define SCHEDULE_SHRINK_WARN_DEFAULT 50

typedef enum Compression {
        COMPRESSION_GZIP,
        COMPRESSION_ZSTD,
        COMPRESSION_XZ,
        COMPRESSION_NONE,
        _COMPRESSION_MAX,
        _COMPRESSION_INVALID = -EINVAL,
} Compression;

const char *compression_to_string(Compression c);
Compression compression_from_string(const char *s);
/* ".tar.gz", ".tar.zst", ".tar.xz", ".tar" */
const char *compression_suffix(Compression c);

/* Dump=ENTRY COMMAND…: COMMAND's standard output becomes the archive entry
 * .alexandria/dumps/ENTRY. */
#define SCHEDULE_DUMPS_DIR ".alexandria/dumps"
#define SCHEDULE_DUMP_ENTRY_MAX 128
#define SCHEDULE_DUMP_TIMEOUT_DEFAULT (UINT64_C(24) * 3600)
#define SCHEDULE_LOCK_TIMEOUT_DEFAULT UINT64_C(300)
#define SCHEDULE_TIMEOUT_INFINITY UINT64_MAX

typedef struct ScheduleDump {
        char *entry;                    /* a file name, no '/' */
        char *command;                  /* the command line as written */
        char **argv;                    /* split with systemd's rules */
        unsigned line;                  /* where it was set, for messages */
} ScheduleDump;

/* LockFile=PATH[:shared] */
typedef struct ScheduleLock {
        char *path;
        bool shared;                    /* LOCK_SH instead of LOCK_EX */
        unsigned line;
} ScheduleLock;

/* ExecStartPre=, ExecStopPost=: systemd directives of the instance. */
typedef struct ScheduleHook {
        char *command;                  /* as written, prefixes included */
        char **argv;                    /* without the prefixes */
        bool ignore_failure;            /* "-" */
        bool privileged;                /* "+": outside the unit's sandbox */
        unsigned line;
} ScheduleHook;

typedef struct Schedule {
        char *name;
        char *path;                     /* the file it was read from, if any */

        /* [Schedule] */
        char *on_calendar;
        bool persistent;
        uint64_t randomized_delay_sec;
        bool enabled;

        /* [Backup] */
        char **sources;                 /* absolute paths */
        char **excludes;                /* globs, matched as alexandria.schedule(5) says under
                                         * Exclude=: no '/': each name below the source; a '/'
                                         * inside: the path below the source; a leading '/':
                                         * the whole path; the source itself never */
        char *destination;              /* absolute path */
        Compression compression;
        unsigned keep;                  /* newest N archives; 0 keeps all */
        bool verify;                    /* read each new archive back before retention */
        bool encryption;                /* encrypt with the key in key_file */
        char *key_file;                 /* absolute path: raw key or passphrase file */
        bool skip_packaged;             /* leave out what installed packages give back (dpkg) */
        bool verify_packaged;           /* ... only while it matches the package's md5sums */
        char **expects;                 /* Expect=: absolute globs or directory prefixes */
        char **copy_to;                 /* CopyTo=: offsite targets, validated by copy_target_parse() */
        char *ssh_command;              /* SSHCommand=: NULL means "ssh" */
        char *rclone_config;            /* RcloneConfig=: absolute path, NULL: rclone's default */
        unsigned copy_keep;             /* CopyKeep=: newest N on each target; 0: what the destination keeps; COPY_KEEP_ALL */
        char *destination_group;        /* DestinationGroup=: destination 0750, archives 0640 for this group */
        char *full_every;               /* FullEvery= as written; NULL: every run is full */
        uint64_t full_every_usec;       /* 0: every run is full */
        unsigned keep_daily;            /* KeepDaily= … KeepYearly=: newest restore point of */
        unsigned keep_weekly;           /* each of the newest N days, ISO weeks, months, */
        unsigned keep_monthly;          /* years (local time); OR-ed with keep; 0: unused */
        unsigned keep_yearly;
        ScheduleDump *dumps;
        size_t n_dumps;
        uint64_t dump_timeout_sec;      /* per dump; SCHEDULE_TIMEOUT_INFINITY: none */
        ScheduleLock *locks;
        size_t n_locks;
        uint64_t lock_timeout_sec;      /* how long to wait for all of them */
        ScheduleHook *exec_start_pre;
        size_t n_exec_start_pre;
        ScheduleHook *exec_stop_post;
        size_t n_exec_stop_post;
        unsigned shrink_warn;           /* ShrinkWarn=: warn when a run reads this % less than usual; 0: no */

        /* [Notify] */
        char *notify_command;           /* run through /bin/sh with ALEXANDRIA_* variables */
        char **mail;                    /* addresses, through sendmail(8) */
        char *ping_url;                 /* healthchecks-style: URL, URL/start, URL/fail */
        bool notify_on_warnings;        /* default yes */
} Schedule;

Schedule *schedule_free(Schedule *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Schedule *, schedule_free);
#define _cleanup_schedule_free_ _cleanup_(schedule_freep)

/* yes/no, true/false, on/off, 1/0 (any case), as systemd reads booleans. */
int parse_bool(const char *v, bool *ret);

bool schedule_name_is_valid(const char *name);
/* Names that would collide with Alexandria's own units ("watchdog"). */
bool schedule_name_is_reserved(const char *name);
/* Characters a calendar expression may use before systemd parses it: enough
 * for every documented form, none that a unit file would interpret. */
bool calendar_chars_are_safe(const char *expr);

/* Schedule with defaults, named NAME, destination DEFAULT_DESTINATION. */
int schedule_new(const char *name, const char *default_destination, Schedule **ret);

/* Reads FILE in the directory DIR_FD (or AT_FDCWD), whose basename must be
 * NAME.conf and which must be a regular file owned by OWNER and not
 * writable by group or others (trust.h); PATH names it in messages. On
 * -EINVAL/-EPERM etc. *ret_error says "PATH:LINE: what is wrong". Callers
 * go through schedule-dir.h, which checks the directory as well. */
int schedule_load_at(int dir_fd, const char *file, const char *path, const char *default_destination, uid_t owner,
                     Schedule **ret, char **ret_error);

/* Parses TEXT as the file of schedule NAME; ORIGIN names it in messages. */
int schedule_parse_string(const char *text, const char *name, const char *origin, const char *default_destination,
                          Schedule **ret, char **ret_error);

/* Refuses a VALUE that a schedule file cannot hold as it is: control
 * characters, spaces around it (the file format drops them), a trailing
 * backslash (a line continuation). LABEL names it in the message. */
int schedule_value_check(const char *label, const char *value, char **ret_error);

/* Schedule NAME from "Key=value" ASSIGNMENTS given on the command line,
 * through the very key parsers that read schedule files, each value first
 * through schedule_value_check(). ORIGIN starts every message. */
int schedule_from_assignments(const char *name, char * const *assignments, const char *origin,
                              const char *default_destination, Schedule **ret, char **ret_error);

/* Parses "path;hh:mm;name" into assignments for schedule_from_assignments();
 * a relative path is resolved against the current directory (it must exist
 * to be resolved, see schedule_check_sources()). */
int schedule_from_spec(const char *spec, const char *default_destination, Schedule **ret, char **ret_error);

/* Refuses a source that is, with symlinks resolved, the destination or
 * inside it (the parser already refuses it where the paths say so). */
int schedule_check_resolved_paths(const Schedule *s, char **ret_error);
/* Checks that each source exists (create refuses schedules whose source
 * does not), and schedule_check_resolved_paths(). */
int schedule_check_sources(const Schedule *s, char **ret_error);

/* Checks that DestinationGroup= names a group that exists (create refuses
 * schedules whose group does not; the worker checks again). */
int schedule_check_group(const Schedule *s, char **ret_error);
/* Checks that the command of every Dump=, ExecStartPre= and ExecStopPost=
 * is an executable: absolute, or found in $PATH. Not part of parsing: the
 * generator must not drop a schedule whose database is not installed yet. */
int schedule_check_commands(const Schedule *s, char **ret_error);

/* "30s", "5min", "1d", "infinity" (SCHEDULE_TIMEOUT_INFINITY). */
int schedule_format_timeout(uint64_t sec, char *buf, size_t size);
/* PingURL= (a healthchecks token), a URL in NotifyCommand= or on-the-fly
 * rclone parameters in CopyTo=: the file is a secret, written 0600
 * (schedule_file_mode()), and shown redacted. */
bool schedule_has_secrets(const Schedule *s);
mode_t schedule_file_mode(const Schedule *s);

/* The file text, ready to be written atomically. */
int schedule_to_string(const Schedule *s, char **ret);

/* "/abs/path;16:07;name" when the schedule fits the short form, else the
 * long form "name OnCalendar=… Source=… [Key=value…]", URLs redacted. */
int schedule_format_line(const Schedule *s, const char *default_destination, char **ret);

/* Whether any of KeepDaily= KeepWeekly= KeepMonthly= KeepYearly= is set. */
static inline bool schedule_keeps_calendar(const Schedule *s) {
        return s->keep_daily + s->keep_weekly + s->keep_monthly + s->keep_yearly > 0;
}
