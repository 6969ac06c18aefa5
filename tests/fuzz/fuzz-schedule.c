/* SPDX-License-Identifier: MIT */
/* The schedule parser: the file form and the short "path;hh:mm;name" form.
 * A schedule that parses is written out and parsed again to the same text:
 * create writes what the worker and the generator will read. */
#include <string.h>

#include "fuzz.h"
#include "log.h"
#include "schedule.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        log_set_max_level(LOG_CRIT);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 64 * 1024)
                return 0;
        char *text = strndup((const char *) data, size);
        fuzz_assert(text);

        Schedule *s = NULL;
        char *error = NULL;
        if (schedule_parse_string(text, "fuzz", "fuzz.conf", "/var/backups/alexandria", &s, &error) == 0) {
                char *out = NULL, *out_again = NULL;
                Schedule *again = NULL;
                fuzz_assert(schedule_to_string(s, &out) == 0);
                char *again_error = NULL;
                int r = schedule_parse_string(out, "fuzz", "fuzz.conf", "/var/backups/alexandria", &again, &again_error);
                if (r < 0)
                        fprintf(stderr, "written schedule does not parse: %s\n---\n%s---\n", again_error, out);
                fuzz_assert(r == 0);
                fuzz_assert(schedule_to_string(again, &out_again) == 0);
                if (strcmp(out, out_again) != 0)
                        fprintf(stderr, "written schedule reads back differently:\n---\n%s---\n%s---\n", out, out_again);
                fuzz_assert(strcmp(out, out_again) == 0);
                free(out);
                free(out_again);
                schedule_free(again);
                schedule_free(s);
        } else
                fuzz_assert(error);
        free(error);
        error = NULL;
        s = NULL;

        /* the short form is one command-line argument */
        if (!memchr(text, '\n', strlen(text)) && schedule_from_spec(text, "/var/backups/alexandria", &s, &error) == 0)
                schedule_free(s);
        free(error);
        free(text);
        return 0;
}
