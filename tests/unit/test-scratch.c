/* SPDX-License-Identifier: MIT */
/* The readers' scratch file: what is written comes back, at any offset and
 * across the stdio buffer, and what reaches the disk is not the text. */
#include <fcntl.h>
#include <unistd.h>

#include "scratch.h"
#include "test.h"

int main(void) {
        char path[] = "/var/tmp/test-scratch-XXXXXX";
        int fd = mkstemp(path);
        ASSERT(fd >= 0);
        FILE *f = scratch_wrap(fd);
        ASSERT(f);

        /* more than stdio's buffer, so that it writes several times */
        static char text[200000], back[sizeof text];
        for (size_t i = 0; i < sizeof text; i++)
                text[i] = "etc/shadow\n"[i % 11];
        ASSERT(fwrite(text, 1, sizeof text, f) == sizeof text);
        ASSERT(fflush(f) == 0);

        /* on disk: the same length, none of the text */
        static char raw[sizeof text];
        ASSERT(pread(fd, raw, sizeof raw, 0) == (ssize_t) sizeof raw);
        ASSERT(!memmem(raw, sizeof raw, "etc/shadow", 10));
        ASSERT(memcmp(raw, text, 64) != 0);

        rewind(f);
        ASSERT(fread(back, 1, sizeof back, f) == sizeof back);
        ASSERT(memcmp(back, text, sizeof text) == 0);
        ASSERT(fgetc(f) == EOF && feof(f));

        /* offsets inside a key-stream block, reading and rewriting there */
        ASSERT(fseek(f, 70001, SEEK_SET) == 0);
        ASSERT(fread(back, 1, 200, f) == 200 && memcmp(back, text + 70001, 200) == 0);
        /* a rewrite from inside one block across the next two */
        static char patch[150];
        memset(patch, 'P', sizeof patch);
        ASSERT(fseek(f, 1000 * 64 + 37, SEEK_SET) == 0);
        ASSERT(fwrite(patch, 1, sizeof patch, f) == sizeof patch && fflush(f) == 0);
        memcpy(text + 1000 * 64 + 37, patch, sizeof patch);
        ASSERT(fseek(f, 1000 * 64 - 5, SEEK_SET) == 0);
        ASSERT(fread(back, 1, 200, f) == 200 && memcmp(back, text + 1000 * 64 - 5, 200) == 0);
        ASSERT(fseek(f, 5, SEEK_SET) == 0);
        ASSERT(fwrite("ETC/SHADOW", 1, 10, f) == 10);
        ASSERT(fseek(f, -3, SEEK_END) == 0);
        ASSERT(fread(back, 1, 10, f) == 3 && memcmp(back, text + sizeof text - 3, 3) == 0);
        ASSERT(fseek(f, 0, SEEK_SET) == 0);
        ASSERT(fread(back, 1, 20, f) == 20);
        ASSERT(memcmp(back, text, 5) == 0 && memcmp(back + 5, "ETC/SHADOW", 10) == 0 &&
               memcmp(back + 15, text + 15, 5) == 0);
        ASSERT(fseek(f, -1, SEEK_SET) < 0);

        /* the key dies with the FILE: opened again, the file is noise */
        ASSERT(fclose(f) == 0);
        fd = open(path, O_RDWR | O_CLOEXEC);
        ASSERT(fd >= 0);
        FILE *g = scratch_wrap(fd);
        static char again[64];
        ASSERT(g && fread(again, 1, sizeof again, g) == sizeof again);
        ASSERT(memcmp(again, text, sizeof again) != 0 && memcmp(again + 5, "ETC/SHADOW", 10) != 0);
        ASSERT(fclose(g) == 0);

        /* a write that fails (a full disk) is an error, never a count:
         * glibc read past the caller's data for a hook that said -1 */
        fd = open(path, O_RDONLY | O_CLOEXEC);
        ASSERT(fd >= 0);
        g = scratch_wrap(fd);
        ASSERT(g);
        ASSERT(fwrite(text, 1, sizeof text, g) < sizeof text);
        ASSERT(ferror(g));
        ASSERT(fflush(g) != 0 || ferror(g));
        fclose(g);

        /* scratch_open: an unnamed file beside the archive */
        f = scratch_open("/var/tmp/no-such-archive.tar.gz");
        ASSERT(f);
        ASSERT(fputs("x\n", f) >= 0 && fflush(f) == 0);
        rewind(f);
        ASSERT(fgetc(f) == 'x');
        ASSERT(fclose(f) == 0);

        ASSERT(unlink(path) == 0);
        puts("ok");
        return 0;
}
