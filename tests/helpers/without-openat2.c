/* SPDX-License-Identifier: MIT */
/* without-openat2 ERRNO COMMAND [ARG…]: runs COMMAND with openat2(2) refused
 * by a seccomp filter, answering ERRNO ("ENOSYS": an old kernel; "EPERM":
 * a container's default profile). The kernel does the refusing, as it would
 * on such a machine; no test switch in the program under test. Needs no
 * privileges (PR_SET_NO_NEW_PRIVS). */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#if defined(__x86_64__)
#define AUDIT_ARCH_NATIVE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define AUDIT_ARCH_NATIVE AUDIT_ARCH_AARCH64
#else
#error "add this architecture's AUDIT_ARCH_*"
#endif

int main(int argc, char **argv) {
        if (argc < 3) {
                fprintf(stderr, "usage: %s ENOSYS|EPERM COMMAND [ARG...]\n", argv[0]);
                return 2;
        }
        unsigned e = strcmp(argv[1], "EPERM") == 0 ? EPERM : ENOSYS;
        struct sock_filter filter[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_NATIVE, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (e & SECCOMP_RET_DATA)),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = sizeof filter / sizeof filter[0], .filter = filter };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
                perror("seccomp");
                return 1;
        }
        /* the filter is in place: prove it before handing over */
        if (syscall(SYS_openat2, AT_FDCWD, ".", NULL, 0) >= 0 || errno != (int) e) {
                fprintf(stderr, "openat2 is not refused with %s\n", argv[1]);
                return 1;
        }
        execvp(argv[2], argv + 2);
        perror(argv[2]);
        return 127;
}
