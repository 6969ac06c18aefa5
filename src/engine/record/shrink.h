/* SPDX-License-Identifier: MIT */
#pragma once

/* The backup that shrinks: a run that reads far less than the runs before
 * it (the disk did not mount, a source moved) is a warning, whatever it
 * wrote. "Usual" is the median of the last SHRINK_HISTORY runs that wrote
 * an archive, from their run records. */

#include <stdint.h>
#include "record.h"

#define SHRINK_HISTORY 7

typedef struct RunUsual {
        bool known;                     /* there was at least one earlier run */
        uint64_t files, bytes;          /* medians */
        uint64_t source_files;          /* median of the records that have it, else 0 */
        /* the same for each of the schedule's sources, over the records
         * that name it (0: none does); n_sources entries, owned */
        uint64_t *source_files_of;
        size_t n_sources;
} RunUsual;

/* RECORDS: oldest first, as record_list() gives them; SOURCES: the
 * schedule's, as the run about to start walks them. */
int shrink_usual(const RunRecord *records, size_t n, char * const *sources, RunUsual *ret);
void shrink_usual_done(RunUsual *u);

/* The restore point a run made: its entries and the bytes of its files,
 * and how many of its entries from the sources are not directories, in all
 * and per source (n_sources entries, in the schedule's order; the owner
 * frees them). */
typedef struct RunPoint {
        uint64_t files, bytes, source_files;
        uint64_t *source_files_of;
        size_t n_sources;
} RunPoint;

/* Whether the run that made POINT from SOURCES shrank against USUAL: by
 * more than PERCENT (0: never), or emptied (always): no data where there
 * was data, or nothing but directories from the sources, or from one of
 * them, where they usually gave more. *RET_MESSAGE then says it with both
 * figures (and names an emptied source). */
int shrink_check(const RunUsual *usual, const RunPoint *point, char * const *sources, unsigned percent,
                 char **ret_message);
