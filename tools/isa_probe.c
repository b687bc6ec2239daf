/* isa_probe.c - register-only throughput (and two latencies) of the
 * AVX-512 instructions the LUT and LOWRANK kernels are built from, on one
 * core: the figures docs/kernels.md reasons with ("LUT on a Zen 5 core";
 * the depthwise notes), measured on the machine at hand.
 *
 * Each mix is 24 instructions on 24 independent registers (zmm0..zmm23,
 * sources zmm30/zmm31, masks k1..k6; random bytes in all of them),
 * repeated in a loop; the cycle is a dependent chain of scalar adds (one
 * per cycle on every x86 core), both timed in this thread's CPU time, best
 * of 3. A destructive instruction (vpermt2b, vpdpbusd, ...) chains on its
 * own register: with 24 chains, a latency of up to 6 cycles still allows
 * 4 per cycle.
 *
 *   build/tools/isa-probe
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define X4(f, a, b, c, d) f(a) f(b) f(c) f(d)
#define R24(f)                                                                                          \
    X4(f, 0, 1, 2, 3) X4(f, 4, 5, 6, 7) X4(f, 8, 9, 10, 11) X4(f, 12, 13, 14, 15) X4(f, 16, 17, 18, 19) \
        X4(f, 20, 21, 22, 23)
#define R12A(f) X4(f, 0, 1, 2, 3) X4(f, 4, 5, 6, 7) X4(f, 8, 9, 10, 11)
#define R12B(f) X4(f, 12, 13, 14, 15) X4(f, 16, 17, 18, 19) X4(f, 20, 21, 22, 23)

#define PERMB(n) "vpermb %%zmm30, %%zmm31, %%zmm" #n "\n\t"
#define PERMI2B(n) "vpermi2b %%zmm30, %%zmm31, %%zmm" #n "\n\t"
#define PERMT2B(n) "vpermt2b %%zmm30, %%zmm31, %%zmm" #n "\n\t"
#define DPBUSD(n) "vpdpbusd %%zmm30, %%zmm31, %%zmm" #n "\n\t"
#define TERNLOG(n) "vpternlogd $0x28, %%zmm30, %%zmm31, %%zmm" #n "\n\t"
#define ADDD(n) "vpaddd %%zmm30, %%zmm" #n ", %%zmm" #n "\n\t"
#define ANDD(n) "vpandd %%zmm30, %%zmm" #n ", %%zmm" #n "\n\t"
#define ADDW(n) "vpaddw %%zmm30, %%zmm" #n ", %%zmm" #n "\n\t"
#define SRLW(n) "vpsrlw $8, %%zmm" #n ", %%zmm" #n "\n\t"
#define BLENDMB(n) "vpblendmb %%zmm30, %%zmm" #n ", %%zmm" #n "%{%%k1%}\n\t"
/* vpmovb2m reads zmm n (written by nothing in its mixes) into k1..k6 in
 * turn */
#define MOVB2M(n, k) "vpmovb2m %%zmm" #n ", %%k" #k "\n\t"
#define MOVB2M_A                                                                                          \
    MOVB2M(0, 1) MOVB2M(1, 2) MOVB2M(2, 3) MOVB2M(3, 4) MOVB2M(4, 5) MOVB2M(5, 6) MOVB2M(6, 1) MOVB2M(7, 2) \
        MOVB2M(8, 3) MOVB2M(9, 4) MOVB2M(10, 5) MOVB2M(11, 6)
#define MOVB2M_B                                                                                         \
    MOVB2M(12, 1) MOVB2M(13, 2) MOVB2M(14, 3) MOVB2M(15, 4) MOVB2M(16, 5) MOVB2M(17, 6) MOVB2M(18, 1)     \
        MOVB2M(19, 2) MOVB2M(20, 3) MOVB2M(21, 4) MOVB2M(22, 5) MOVB2M(23, 6)

#define CLOBBER                                                                                                \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", \
        "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",   \
        "k1", "k2", "k3", "k4", "k5", "k6"

enum { ITERS = 4000000 };

static double thread_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* random bytes for every register a mix reads: some cores run some
 * operations faster on zero registers (here: vpternlogd beside permutes) */
static unsigned char data[32][64] __attribute__((aligned(64)));
#define LD(n) "vmovdqa64 " #n "*64(%0), %%zmm" #n "\n\t"
#define LOAD_ALL                                                                                \
    __asm__ volatile(R24(LD) "vmovdqa64 30*64(%0), %%zmm30\n\tvmovdqa64 31*64(%0), %%zmm31\n\t" \
                     "kxnorq %%k1, %%k1, %%k1" ::"r"(data)                                        \
                     : CLOBBER, "xmm30", "xmm31")

#define MIX_FN(name, body)                                                                 \
    static void name(long n)                                                               \
    {                                                                                      \
        LOAD_ALL;                                                                          \
        for (long i = 0; i < n; i++) __asm__ volatile(body ::: CLOBBER);                  \
    }
MIX_FN(mix_vpermb, R24(PERMB))
MIX_FN(mix_vpermi2b, R24(PERMI2B))
MIX_FN(mix_vpermt2b, R24(PERMT2B))
MIX_FN(mix_vpdpbusd, R24(DPBUSD))
MIX_FN(mix_vpternlogd, R24(TERNLOG))
MIX_FN(mix_vpaddd, R24(ADDD))
MIX_FN(mix_vpaddw, R24(ADDW))
MIX_FN(mix_vpsrlw, R24(SRLW))
MIX_FN(mix_vpblendmb, R24(BLENDMB))
MIX_FN(mix_vpmovb2m, MOVB2M_A MOVB2M_B)
MIX_FN(mix_permt2b_dpbusd, R12A(PERMT2B) R12B(DPBUSD))
MIX_FN(mix_permt2b_ternlog, R12A(PERMT2B) R12B(TERNLOG))
MIX_FN(mix_permt2b_addd, R12A(PERMT2B) R12B(ADDD))
MIX_FN(mix_permi2b_movb2m, R12A(PERMI2B) MOVB2M_B)
MIX_FN(mix_permi2b_srlw, R12A(PERMI2B) R12B(SRLW))
MIX_FN(mix_dpbusd_addd, R12A(DPBUSD) R12B(ADDD))
MIX_FN(mix_permi2b_blendmb, R12A(PERMI2B) R12B(BLENDMB))
MIX_FN(mix_permi2b_addw, R12A(PERMI2B) R12B(ADDW))
MIX_FN(mix_permi2b_and, R12A(PERMI2B) R12B(ANDD))
/* one chain: latency */
MIX_FN(chain_vpermt2b, PERMT2B(0) PERMT2B(0) PERMT2B(0) PERMT2B(0) PERMT2B(0) PERMT2B(0) PERMT2B(0) PERMT2B(0)
                           PERMT2B(0) PERMT2B(0) PERMT2B(0) PERMT2B(0) PERMT2B(0) PERMT2B(0) PERMT2B(0)
                               PERMT2B(0) PERMT2B(0) PERMT2B(0) PERMT2B(0) PERMT2B(0) PERMT2B(0) PERMT2B(0)
                                   PERMT2B(0) PERMT2B(0))
MIX_FN(chain_vpdpbusd, DPBUSD(0) DPBUSD(0) DPBUSD(0) DPBUSD(0) DPBUSD(0) DPBUSD(0) DPBUSD(0) DPBUSD(0) DPBUSD(0)
                           DPBUSD(0) DPBUSD(0) DPBUSD(0) DPBUSD(0) DPBUSD(0) DPBUSD(0) DPBUSD(0) DPBUSD(0)
                               DPBUSD(0) DPBUSD(0) DPBUSD(0) DPBUSD(0) DPBUSD(0) DPBUSD(0) DPBUSD(0))

static void add_chain(long n)
{
    long r = 0;
    for (long i = 0; i < n; i++)
        __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                         "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                         "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                         "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
                         : "+r"(r));
}

/* seconds per instruction of fn (24 per iteration), best of 3 */
static double per_instruction(void (*fn)(long))
{
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = thread_seconds();
        fn(ITERS);
        double t = (thread_seconds() - t0) / (24.0 * ITERS);
        if (t < best) best = t;
    }
    return best;
}

int main(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: isa-probe (no arguments)\n");
        return 2;
    }
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("avx512vbmi") ||
        !__builtin_cpu_supports("avx512vnni")) {
        fprintf(stderr, "isa-probe: this CPU lacks AVX-512 BW, VBMI or VNNI: nothing to measure\n");
        return 1;
    }
    unsigned x = 2463534242u; /* xorshift: any fixed non-zero bytes */
    for (size_t i = 0; i < sizeof data; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        data[i / 64][i % 64] = (unsigned char)(x >> 24);
    }
    double cycle = per_instruction(add_chain);
    printf("clock (dependent add chain, thread CPU time): %.2f GHz\n\n", 1e-9 / cycle);
    static const struct {
        const char *name;
        void (*fn)(long);
        int latency;
    } mixes[] = {
        {"vpermb zmm", mix_vpermb, 0},
        {"vpermi2b zmm", mix_vpermi2b, 0},
        {"vpermt2b zmm", mix_vpermt2b, 0},
        {"vpdpbusd zmm", mix_vpdpbusd, 0},
        {"vpternlogd zmm", mix_vpternlogd, 0},
        {"vpaddd zmm", mix_vpaddd, 0},
        {"vpaddw zmm", mix_vpaddw, 0},
        {"vpsrlw zmm", mix_vpsrlw, 0},
        {"vpblendmb zmm", mix_vpblendmb, 0},
        {"vpmovb2m zmm", mix_vpmovb2m, 0},
        {"12 vpermt2b + 12 vpdpbusd", mix_permt2b_dpbusd, 0},
        {"12 vpermt2b + 12 vpternlogd", mix_permt2b_ternlog, 0},
        {"12 vpermt2b + 12 vpaddd", mix_permt2b_addd, 0},
        {"12 vpermi2b + 12 vpmovb2m", mix_permi2b_movb2m, 0},
        {"12 vpermi2b + 12 vpsrlw", mix_permi2b_srlw, 0},
        {"12 vpdpbusd + 12 vpaddd", mix_dpbusd_addd, 0},
        {"12 vpermi2b + 12 vpblendmb", mix_permi2b_blendmb, 0},
        {"12 vpermi2b + 12 vpaddw", mix_permi2b_addw, 0},
        {"12 vpermi2b + 12 vpandd", mix_permi2b_and, 0},
        {"vpermt2b zmm latency", chain_vpermt2b, 1},
        {"vpdpbusd zmm latency", chain_vpdpbusd, 1},
    };
    printf("%-30s %s\n", "instructions", "per cycle (latency: cycles)");
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++) {
        double t = per_instruction(mixes[i].fn);
        if (mixes[i].latency) printf("%-30s %.2f cycles\n", mixes[i].name, t / cycle);
        else printf("%-30s %.2f\n", mixes[i].name, cycle / t);
    }
    return 0;
}
