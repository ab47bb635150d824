/*
 * unitlab-runner: the catalogue as a small static native program.
 *
 * Used by the `process` backend (a unit is a fork+exec of this file) and by the `container`
 * backend (a FROM-scratch image holding only this file). It implements the same functions as
 * every other backend; the reference is backends/core/src/catalogue.rs.
 *
 * Protocol (line based, stdin -> stdout, see guests/runner/src/lib.rs):
 *   runner -> harness:  "ready <pid>\n" once, as soon as main() runs
 *   harness -> runner:  "<function> <size> <seed>\n"   function in noop|cpu|alloc
 *   runner -> harness:  "ok <value> <guest_ns>\n" or "err <message>\n"
 *   EOF or "quit\n" ends the process with status 0.
 *
 * Fault modes for tests of the backends (they never change the protocol above):
 *   unitlab-runner --exit <code>   exits with <code> at once, before "ready"
 *   unitlab-runner --hang          never prints "ready" and waits forever (pause(2))
 *
 * Built by build.rs with the platform C compiler: cc -O2 -static runner.c
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOOP_VALUE 0x2A2A2A2Au
#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u
#define PAGE 4096u

static uint32_t fnv(uint32_t h, uint8_t b) { return (h ^ b) * FNV_PRIME; }

static uint32_t cpu(uint32_t kib, uint32_t seed) {
    uint32_t x = seed ^ 0x9E3779B9u;
    if (x == 0) x = 1;
    uint32_t h = FNV_OFFSET;
    uint64_t n = (uint64_t)kib * 1024;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        h = fnv(h, (uint8_t)x);
    }
    return h;
}

static int alloc_fn(uint32_t mib, uint32_t seed, uint32_t *out) {
    size_t len = (size_t)mib << 20;
    volatile uint8_t *buf = malloc(len ? len : 1);
    if (!buf) return -1;
    for (size_t p = 0; p * PAGE < len; p++) buf[p * PAGE] = (uint8_t)((p * 7 + seed) & 0xff);
    uint32_t h = FNV_OFFSET;
    for (size_t p = 0; p * PAGE < len; p++) h = fnv(h, buf[p * PAGE]);
    free((void *)buf);
    *out = h;
    return 0;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
    char line[256], fn[32];
    unsigned long size, seed;
    if (argc >= 3 && strcmp(argv[1], "--exit") == 0) return atoi(argv[2]);
    if (argc >= 2 && strcmp(argv[1], "--hang") == 0) {
        for (;;) pause();
    }
    setvbuf(stdout, NULL, _IOFBF, 4096);
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    while (fgets(line, sizeof line, stdin)) {
        if (strncmp(line, "quit", 4) == 0) break;
        if (sscanf(line, "%31s %lu %lu", fn, &size, &seed) != 3) {
            printf("err malformed request: expected `<function> <size> <seed>`\n");
            fflush(stdout);
            continue;
        }
        uint64_t t0 = now_ns();
        uint32_t v;
        if (strcmp(fn, "noop") == 0) {
            v = NOOP_VALUE;
        } else if (strcmp(fn, "cpu") == 0) {
            v = cpu((uint32_t)size, (uint32_t)seed);
        } else if (strcmp(fn, "alloc") == 0) {
            if (alloc_fn((uint32_t)size, (uint32_t)seed, &v) != 0) {
                printf("err out of memory allocating %lu MiB\n", size);
                fflush(stdout);
                continue;
            }
        } else {
            printf("err unknown function `%s`; known: noop, cpu, alloc\n", fn);
            fflush(stdout);
            continue;
        }
        uint64_t t1 = now_ns();
        printf("ok %u %llu\n", v, (unsigned long long)(t1 - t0));
        fflush(stdout);
    }
    return 0;
}
