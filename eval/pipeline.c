/* pipeline.c - the evaluation loop: loader threads read (from the cache or
 * the source) and preprocess the items of the next batch while the calling
 * thread runs the network on the current one (double buffering), so decode
 * and compute overlap; unreadable items are skipped and reported; each
 * finished batch goes to the checkpoint. */
#include "eval_internal.h"

#include "lut/ax_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 2
#define MAX_LOADERS 8

typedef struct slot {
    size_t seq;          /* batch number; SIZE_MAX when idle */
    size_t first, n;     /* items [first, first + n) */
    size_t next, done;   /* next row to hand out; rows finished */
    float *x;            /* n rows of one preprocessed item */
    char **why;          /* per row: NULL, or why the item was skipped */
    bool failed;
    ax_error err;
} slot;

typedef struct pipeline {
    const axev_feed *f;
    const ax_eval_options *o;
    axev_cache *cache;
    size_t isz;
    pthread_mutex_t mu;
    pthread_cond_t work, ready;
    slot s[SLOTS];
    bool stop;
    double load_seconds;
    size_t loaded, decoded, hits;
} pipeline;

typedef struct loader_arg {
    pipeline *p;
    uint8_t *px;
} loader_arg;

double axev_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void axev_warn(const ax_eval_options *o, const char *fmt, ...)
{
    if (!o->warn) return;
    char line[AX_ERROR_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->warn(o->ctx, line);
}

/* One item: bytes from the cache or the source, then the float stage. */
static int load_item(pipeline *p, size_t i, uint8_t *px, float *x, ax_error *err, bool *hit)
{
    bool bad = false;
    int rc = 0;
    *hit = p->cache && axev_cache_get(p->cache, i, px, &bad);
    if (!*hit || bad) { /* a cached unreadable item is read again for its message */
        rc = p->f->load_u8(p->f->ctx, i, px, err);
        if (!*hit && p->cache && (rc == 0 || rc == AX_SOURCE_BAD_ITEM)) axev_cache_put(p->cache, i, px, rc != 0);
        *hit = false;
    }
    if (rc == 0) ax_eval_float_stage(&p->o->pp, px, p->isz, p->f->c, x);
    return rc;
}

/* The oldest batch with rows left to hand out. */
static slot *next_work(pipeline *p)
{
    slot *best = NULL;
    for (int k = 0; k < SLOTS; k++)
        if (p->s[k].seq != SIZE_MAX && p->s[k].next < p->s[k].n && (!best || p->s[k].seq < best->seq)) best = &p->s[k];
    return best;
}

static void *loader(void *arg)
{
    pipeline *p = ((loader_arg *)arg)->p;
    uint8_t *px = ((loader_arg *)arg)->px;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        slot *s = next_work(p);
        if (!s) {
            if (p->stop) break;
            pthread_cond_wait(&p->work, &p->mu);
            continue;
        }
        size_t row = s->next++;
        pthread_mutex_unlock(&p->mu);
        ax_error err;
        bool hit;
        double t0 = axev_now();
        int rc = load_item(p, s->first + row, px, s->x + row * p->isz, &err, &hit);
        double t = axev_now() - t0;
        char *why = rc == AX_SOURCE_BAD_ITEM ? strdup(err.msg) : NULL;
        pthread_mutex_lock(&p->mu);
        p->load_seconds += t, p->loaded++, *(hit ? &p->hits : &p->decoded) += 1;
        if (rc == AX_SOURCE_BAD_ITEM && why) s->why[row] = why;
        else if (rc != 0 && !s->failed) {
            s->failed = true;
            s->err = rc == AX_SOURCE_BAD_ITEM ? (ax_error){"out of memory"} : err;
        }
        if (++s->done == s->n) pthread_cond_broadcast(&p->ready);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Queues batch seq (items from `start`, batch size B) into slot s, or
 * leaves it idle when there is no such batch (SIZE_MAX: none). Under mu. */
static void queue(pipeline *p, slot *s, size_t seq, size_t start, size_t end, size_t B)
{
    if (seq == SIZE_MAX || seq >= (end - start + B - 1) / B) {
        s->seq = SIZE_MAX;
        return;
    }
    size_t first = start + seq * B;
    s->seq = seq, s->first = first, s->n = end - first < B ? end - first : B;
    s->next = s->done = 0, s->failed = false;
    memset(s->why, 0, B * sizeof *s->why);
    pthread_cond_broadcast(&p->work);
}

typedef struct run {
    ax_nn_runtime *rt;
    const axev_feed *f;
    const ax_eval_options *o;
    size_t first, count, B, nc;
    ax_eval_result *r;
    char **why;        /* per item of the range */
    axev_ckpt *ck;
    float *y;
} run;

/* Runs the good rows of a loaded batch and files every row's result. */
static int compute(run *u, slot *s, ax_error *err)
{
    size_t good = 0, isz = u->f->h * u->f->w * u->f->c;
    for (size_t j = 0; j < s->n; j++) {
        if (s->why[j]) continue;
        if (good != j) memmove(s->x + good * isz, s->x + j * isz, isz * sizeof *s->x);
        good++;
    }
    double t0 = axev_now();
    if (good && ax_nn_runtime_run(u->rt, good, s->x, u->y, u->o->threads, err) != 0) return -1;
    u->r->compute_seconds += axev_now() - t0;
    u->r->computed += good;
    ax_eval_result *r = u->r;
    for (size_t j = 0, g = 0; j < s->n; j++) {
        size_t at = s->first + j - u->first;
        if (s->why[j]) {
            u->why[at] = s->why[j], s->why[j] = NULL;
            r->rank[at] = AX_EVAL_SKIPPED;
            for (size_t k = 0; r->logits && k < u->nc; k++) r->logits[at * u->nc + k] = NAN;
            continue;
        }
        const float *y = u->y + g++ * u->nc;
        r->rank[at] = (uint32_t)ax_nn_rank(y, u->nc, u->f->label(u->f->ctx, s->first + j));
        if (r->logits) memcpy(r->logits + at * u->nc, y, u->nc * sizeof *y);
    }
    return u->ck ? axev_ckpt_append(u->ck, s->first - u->first, s->n, r, u->why, err) : 0;
}

static int loaders_wanted(const ax_eval_options *o)
{
    long n = o->loaders > 0 ? o->loaders : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_LOADERS ? MAX_LOADERS : (int)n;
}

/* The pipeline over items [start, end). */
static int run_pipeline(run *u, size_t start, size_t end, axev_cache *cache, ax_error *err)
{
    pipeline p = {.f = u->f, .o = u->o, .cache = cache, .isz = u->f->h * u->f->w * u->f->c};
    int nl = loaders_wanted(u->o), rc = 0, started = 0;
    pthread_t th[MAX_LOADERS];
    loader_arg la[MAX_LOADERS] = {{0}};
    for (int k = 0; k < SLOTS; k++) {
        p.s[k].x = malloc(u->B * p.isz * sizeof(float));
        p.s[k].why = calloc(u->B, sizeof(char *));
        if (!p.s[k].x || !p.s[k].why) rc = ax_fail(err, "eval: out of memory for batch %zu", u->B);
    }
    for (int k = 0; k < nl && rc == 0; k++)
        if (!(la[k].px = malloc(p.isz))) rc = ax_fail(err, "eval: out of memory");
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.work, NULL), pthread_cond_init(&p.ready, NULL);
    for (int k = 0; k < SLOTS; k++) queue(&p, &p.s[k], rc == 0 ? (size_t)k : SIZE_MAX, start, end, u->B);
    for (int k = 0; k < nl && rc == 0; k++) {
        la[k].p = &p;
        if (pthread_create(&th[k], NULL, loader, &la[k]) != 0) rc = ax_fail(err, "eval: cannot start loader threads");
        else started++;
    }
    for (size_t seq = 0; rc == 0 && start + seq * u->B < end; seq++) {
        slot *s = &p.s[seq % SLOTS];
        double t0 = axev_now();
        pthread_mutex_lock(&p.mu);
        while (s->done < s->n) pthread_cond_wait(&p.ready, &p.mu);
        pthread_mutex_unlock(&p.mu);
        u->r->wait_seconds += axev_now() - t0;
        if (s->failed) rc = ax_fail(err, "%s", s->err.msg);
        else rc = compute(u, s, err);
        if (u->o->progress) u->o->progress(u->o->ctx, s->first + s->n - u->first, u->count);
        pthread_mutex_lock(&p.mu);
        queue(&p, s, rc == 0 ? seq + SLOTS : SIZE_MAX, start, end, u->B);
        pthread_mutex_unlock(&p.mu);
    }
    pthread_mutex_lock(&p.mu);
    p.stop = true;
    for (int k = 0; k < SLOTS; k++) p.s[k].seq = SIZE_MAX;
    pthread_cond_broadcast(&p.work);
    pthread_mutex_unlock(&p.mu);
    for (int k = 0; k < started; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < SLOTS; k++) {
        for (size_t j = 0; p.s[k].why && j < u->B; j++) free(p.s[k].why[j]);
        free(p.s[k].x), free(p.s[k].why);
    }
    for (int k = 0; k < nl; k++) free(la[k].px);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.work), pthread_cond_destroy(&p.ready);
    u->r->loaders = (size_t)nl, u->r->load_seconds = p.load_seconds;
    u->r->loaded = p.loaded, u->r->decoded = p.decoded, u->r->cache_hits = p.hits;
    return rc;
}

/* Tallies top-1/top-5 and lists the skipped items, in item order. */
static int finish(run *u)
{
    ax_eval_result *r = u->r;
    for (size_t i = 0; i < u->count; i++) r->n_skipped += r->rank[i] == AX_EVAL_SKIPPED;
    r->skipped = calloc(r->n_skipped ? r->n_skipped : 1, sizeof *r->skipped);
    if (!r->skipped) return -1;
    for (size_t i = 0, k = 0; i < u->count; i++) {
        uint32_t rank = r->rank[i];
        if (rank != AX_EVAL_SKIPPED) {
            r->images++, r->top1 += rank == 0, r->top5 += rank < 5;
            continue;
        }
        ax_eval_skip *s = &r->skipped[k++];
        s->item = u->first + i;
        s->why = u->why[i] ? u->why[i] : strdup("unreadable");
        u->why[i] = NULL;
        s->name = strdup(u->f->name(u->f->ctx, s->item));
        if (!s->why || !s->name) return -1;
    }
    return 0;
}

static void run_id(const run *u, char out[65])
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s|%s|%zu|%zu|%zu|%d", u->o->identity, u->f->key, u->first, u->count, u->nc,
                     u->r->logits != NULL);
    ax_sha256_hex(buf, (size_t)n, out);
}

static int check(ax_nn_runtime *rt, const axev_feed *f, size_t first, size_t count, const ax_eval_options *o,
                 ax_error *err)
{
    size_t h, w, c;
    ax_nn_input_shape(ax_nn_runtime_model(rt), &h, &w, &c);
    if (h != f->h || w != f->w || c != f->c)
        return ax_fail(err, "data: items are %zux%zux%zu (h x w x c), the model expects %zux%zux%zu", f->h, f->w, f->c,
                       h, w, c);
    if (first > f->count || count > f->count - first)
        return ax_fail(err, "data: items %zu..%zu asked, the source has %zu", first, first + count, f->count);
    if (o->checkpoint && !o->identity) return ax_fail(err, "eval: a checkpoint needs the run's identity");
    return 0;
}

int axev_run(ax_nn_runtime *rt, const axev_feed *f, size_t first, size_t count, const ax_eval_options *o,
             ax_eval_result *r, ax_error *err)
{
    memset(r, 0, sizeof *r);
    if (check(rt, f, first, count, o, err) != 0) return -1;
    double t0 = axev_now();
    size_t nc = ax_nn_output_size(ax_nn_runtime_model(rt)), isz = f->h * f->w * f->c, done = 0;
    run u = {.rt = rt, .f = f, .o = o, .first = first, .count = count, .B = o->batch ? o->batch : 256, .nc = nc, .r = r};
    r->count = count, r->classes = nc;
    bool big = nc && count > SIZE_MAX / 4 / nc;
    r->rank = malloc((count ? count : 1) * sizeof *r->rank);
    r->logits = o->keep_logits && !big ? malloc((count ? count : 1) * nc * sizeof *r->logits) : NULL;
    u.why = calloc(count ? count : 1, sizeof *u.why);
    u.y = malloc(u.B * nc * sizeof *u.y);
    int rc = 0;
    if (!r->rank || !u.why || !u.y || (o->keep_logits && !r->logits)) rc = ax_fail(err, "eval: out of memory for %zu items", count);
    if (rc == 0 && o->checkpoint) {
        char id[65];
        run_id(&u, id);
        rc = axev_ckpt_open(o->checkpoint, id, o, r, u.why, &done, &u.ck, err);
    }
    r->resumed = done;
    axev_cache *cache = NULL;
    if (rc == 0 && o->cache_dir && done < count)
        rc = axev_cache_open(o->cache_dir, f->key, isz, first + done, first + count, o, &cache, err);
    if (rc == 0 && done < count) rc = run_pipeline(&u, first + done, first + count, cache, err);
    axev_cache_close(cache);
    if (rc == 0 && finish(&u) != 0) rc = ax_fail(err, "eval: out of memory");
    axev_ckpt_close(u.ck, rc == 0);
    for (size_t i = 0; u.why && i < count; i++) free(u.why[i]);
    free(u.why), free(u.y);
    r->seconds = axev_now() - t0;
    if (rc != 0) ax_eval_result_free(r);
    return rc;
}
