/* clock.c - the core clock measured during the run, for MAC/cycle: cycles
 * from perf_event_open when the kernel exposes a hardware counter (often not
 * in a VM), else a calibrated chain of dependent adds, one cycle each on
 * every core we target. Never a nominal clock. */
#include "bench.h"

#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#endif

#define CHAIN_ITERS 250000 /* x 8 adds: ~1 ms at 2 GHz */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 8 x CHAIN_ITERS adds, each waiting for the previous one. Register +
 * register: some cores (Golden Cove) fold add-immediate chains at rename and
 * retire several per cycle. */
static uint64_t add_chain(uint64_t x)
{
    uint64_t y = 1;
    __asm__ volatile("" : "+r"(y)); /* an opaque addend */
    for (long i = 0; i < CHAIN_ITERS; i++) {
#define STEP x += y; __asm__ volatile("" : "+r"(x));
        STEP STEP STEP STEP STEP STEP STEP STEP
#undef STEP
    }
    return x;
}

static int open_cycles(void)
{
#ifdef __linux__
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_HARDWARE;
    a.size = sizeof a;
    a.config = PERF_COUNT_HW_CPU_CYCLES;
    a.disabled = 1;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
#else
    return -1;
#endif
}

/* Best of three windows: preemption only ever makes a window look slower. */
static double measure(bool *used_perf)
{
    int fd = open_cycles();
    double best = 0;
    uint64_t sink = 0;
    for (int rep = 0; rep < 3; rep++) {
        uint64_t c0 = 0, c1 = 0;
        bool ok = false;
#ifdef __linux__
        if (fd >= 0) {
            ioctl(fd, PERF_EVENT_IOC_RESET, 0);
            ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
        }
#endif
        double t0 = now_s();
        sink = add_chain(sink);
        double t = now_s() - t0;
#ifdef __linux__
        if (fd >= 0) {
            ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
            ok = read(fd, &c1, sizeof c1) == (ssize_t)sizeof c1 && c1 > c0;
        }
#endif
        double hz = ok ? (double)(c1 - c0) / t : 8.0 * CHAIN_ITERS / t;
        if (t > 0 && hz > best) best = hz;
        *used_perf = ok;
    }
    if (fd >= 0) close(fd);
    return sink == 1 ? 0 : best; /* sink keeps the chain alive */
}

double bench_core_hz(void)
{
    bool perf;
    return measure(&perf);
}

const char *bench_clock_source(void)
{
    bool perf;
    measure(&perf);
    return perf ? "perf_event hardware cycles" : "calibrated dependent-add chain (1 add per cycle)";
}
