/* SPDX-License-Identifier: MIT */
#pragma once

/* The exit codes of DESIGN.md, shared by alexandria-ctl and the worker. */
enum {
        EXIT_OK = 0,
        EXIT_FAILED = 1,        /* the operation failed */
        EXIT_USAGE = 2,         /* bad usage or bad input; nothing was changed */
        EXIT_WARNINGS = 3,      /* archive written, with warnings */
        EXIT_BUSY = 4,          /* another run of the schedule holds the lock */
};
