/* SPDX-License-Identifier: MIT */
#pragma once

/* ExecStartPre= and ExecStopPost= of a schedule, for `run --here`: what
 * systemd does with the same lines in the instance's drop-in. Each command
 * runs in turn with the caller's stdio and environment plus EXTRA_ENV; one
 * that fails (not prefixed "-") stops the list. EXTRA_ENV entries without
 * "=" remove that variable. ExecStopPost= gets
 * $SERVICE_RESULT, $EXIT_CODE and $EXIT_STATUS like systemd sets them. */

#include "schedule.h"

typedef struct HookStatus {
        int code;               /* CLD_EXITED, CLD_KILLED, CLD_DUMPED */
        int status;             /* exit status or signal */
} HookStatus;

/* 0 when all ran and none failed (or its failure is ignored); -EPROTO when
 * one failed (*ret_failed says how, *ret_error names it), another negative
 * errno when one could not be started. */
int hooks_run(const char *key, const ScheduleHook *hooks, size_t n, char **extra_env,
              HookStatus *ret_failed, char **ret_error);

/* The environment systemd gives ExecStopPost=: "SERVICE_RESULT=…", and
 * "EXIT_CODE=…", "EXIT_STATUS=…" of the main process if it ran (MAIN_RAN;
 * after a failed ExecStartPre= systemd sets neither: they are then removed
 * from the environment). ST: how the main process, or the failed
 * ExecStartPre=, ended. SUCCESS: whether systemd would call it success
 * (SuccessExitStatus= included). */
int hooks_stop_post_env(bool success, bool main_ran, const HookStatus *st, char ***ret);
