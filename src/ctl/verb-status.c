/* SPDX-License-Identifier: MIT */
#include "ctl.h"
#include "log.h"

int verb_status(int argc, char **argv) {
        log_error("status: not implemented yet");
        return EXIT_FAILED;
}

int verb_logs(int argc, char **argv) {
        log_error("logs: not implemented yet");
        return EXIT_FAILED;
}
