/* machine.c - describes the machine a benchmark ran on (hwloc when the build
 * has it): CPU model and vendor, cpuid family/model/stepping, packages,
 * cores, hardware threads, caches, NUMA nodes, ISA features; and derives the
 * results folder name from them. */
#include "ax_config.h"
#include "bench.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#if AX_HAVE_HWLOC
#include <hwloc.h>
#endif

static void append(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(buf);
    if (n < cap) snprintf(buf + n, cap - n, "%s%s", n ? " " : "", s);
}

static void features(char *buf, size_t cap)
{
    buf[0] = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) append(buf, cap, "sse4.2");
    if (__builtin_cpu_supports("avx2")) append(buf, cap, "avx2");
    if (__builtin_cpu_supports("fma")) append(buf, cap, "fma");
    if (__builtin_cpu_supports("bmi2")) append(buf, cap, "bmi2");
    if (__builtin_cpu_supports("avx512f")) append(buf, cap, "avx512f");
    if (__builtin_cpu_supports("avx512bw")) append(buf, cap, "avx512bw");
    if (__builtin_cpu_supports("avx512vl")) append(buf, cap, "avx512vl");
    if (__builtin_cpu_supports("avx512vbmi")) append(buf, cap, "avx512vbmi");
    if (__builtin_cpu_supports("avx512vnni")) append(buf, cap, "avx512vnni");
    if (__builtin_cpu_supports("avxvnni")) append(buf, cap, "avxvnni");
#elif defined(__aarch64__)
    append(buf, cap, "neon");
#endif
    if (!buf[0]) snprintf(buf, cap, "baseline");
}

#if AX_HAVE_HWLOC
static void describe_hwloc(bench_machine *m)
{
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) != 0) return;
    if (hwloc_topology_load(t) != 0) {
        hwloc_topology_destroy(t);
        return;
    }
    m->packages = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE);
    m->cores = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
    m->pus = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
    m->numa = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
    hwloc_obj_t pkg = hwloc_get_obj_by_type(t, HWLOC_OBJ_PACKAGE, 0);
    if (pkg) {
        const char *v;
        if ((v = hwloc_obj_get_info_by_name(pkg, "CPUModel"))) snprintf(m->model, sizeof m->model, "%s", v);
        if ((v = hwloc_obj_get_info_by_name(pkg, "CPUVendor"))) snprintf(m->vendor, sizeof m->vendor, "%s", v);
        const char *f = hwloc_obj_get_info_by_name(pkg, "CPUFamilyNumber");
        const char *mo = hwloc_obj_get_info_by_name(pkg, "CPUModelNumber");
        const char *st = hwloc_obj_get_info_by_name(pkg, "CPUStepping");
        if (f && mo) snprintf(m->fms, sizeof m->fms, "%s-%s-%s", f, mo, st ? st : "0");
    }
    const struct { hwloc_obj_type_t type; const char *name; } levels[] = {
        {HWLOC_OBJ_L1CACHE, "L1d"}, {HWLOC_OBJ_L2CACHE, "L2"}, {HWLOC_OBJ_L3CACHE, "L3"}};
    m->caches[0] = 0;
    for (size_t i = 0; i < 3; i++) {
        int n = hwloc_get_nbobjs_by_type(t, levels[i].type);
        hwloc_obj_t c = hwloc_get_obj_by_type(t, levels[i].type, 0);
        if (!c || !c->attr) continue;
        char one[64];
        snprintf(one, sizeof one, "%s=%lluKiBx%d", levels[i].name,
                 (unsigned long long)(c->attr->cache.size / 1024), n);
        append(m->caches, sizeof m->caches, one);
    }
    hwloc_topology_destroy(t);
}
#endif

/* lowercase [a-z0-9], "(R)" and "(TM)" dropped, runs of anything else
 * become one '-' */
static void sanitize(char *s)
{
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        if (strncasecmp(s + i, "(r)", 3) == 0 || strncasecmp(s + i, "(tm)", 4) == 0) {
            i += s[i + 2] == ')' ? 2 : 3;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c)) s[o++] = (char)tolower(c);
        else if (o && s[o - 1] != '-') s[o++] = '-';
    }
    while (o && s[o - 1] == '-') o--;
    s[o] = 0;
}

void bench_machine_describe(bench_machine *m)
{
    memset(m, 0, sizeof *m);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    m->packages = 1;
    m->cores = m->pus = n > 0 ? (int)n : 1;
    m->numa = 1;
    snprintf(m->model, sizeof m->model, "unknown-cpu");
#if AX_HAVE_HWLOC
    describe_hwloc(m);
#endif
    if (m->cores <= 0) m->cores = 1;
    features(m->features, sizeof m->features);
    char raw[512];
    snprintf(raw, sizeof raw, "%.80s %.20s %s %dc", m->model, m->vendor, m->fms[0] ? m->fms : "", m->cores);
    sanitize(raw);
    snprintf(m->id, sizeof m->id, "%.150s", raw);
}
