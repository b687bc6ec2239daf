/* import_c_model.c - a multiplier given as C source: find its function, read
 * the EvoApproxLib hardware comments, compile it with the system C compiler
 * into a temporary shared object and tabulate it over all 65,536 pairs.
 *
 * The wrapper #includes the user's file by absolute path (so its own relative
 * #includes still work) and learns the return type through __typeof__, which
 * keeps us from having to parse C types beyond the parameter list. */
#include "import_internal.h"
#include "ax_config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define COMPILE_TIMEOUT_S 120

struct ax_cmodel {
    void *dl;
    int (*tabulate)(int64_t *out, int s0, int s1);
    ax_cmodel_ret ret;
};

/* ---- finding the function ------------------------------------------------- */

static void append_tok(char *dst, size_t size, const ax_ctok *t)
{
    size_t len = strlen(dst);
    if (len && len + 1 < size) dst[len++] = ' ', dst[len] = 0;
    size_t n = t->n < size - 1 - len ? t->n : size - 1 - len;
    memcpy(dst + len, t->s, n);
    dst[len + n] = 0;
}

static bool is_type_word(const ax_ctok *t)
{
    static const char *const words[] = {"int", "char", "short", "long", "unsigned", "signed", "const",
                                        "volatile", "float", "double", "_Bool", "bool", "register"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (ax_ctok_is(t, words[i])) return true;
    return t->n > 2 && t->s[t->n - 2] == '_' && t->s[t->n - 1] == 't'; /* int8_t, uint64_t, size_t */
}

/* Classifies a parameter from its type words (the parameter's name dropped). */
static void classify_param(ax_cmodel_fn *fn, int k)
{
    const char *t = fn->param_type[k];
    bool uns = strstr(t, "unsigned") || strstr(t, "uint") || strstr(t, "size_t");
    fn->param_unsigned[k] = uns;
    bool eight = strstr(t, "int8_t") || strstr(t, "int_least8_t") || strstr(t, "int_fast8_t") || strstr(t, "char");
    bool explicit_sign = uns || strstr(t, "signed char") || strstr(t, "int");
    fn->param_sign8[k] = !eight || !explicit_sign ? 0 : uns ? -1 : +1;
}

/* Reads "( type name , type name )" after the function name; false unless
 * it is exactly two plain (non-pointer, non-array) parameters. */
static bool read_params(ax_clexer *lx, ax_cmodel_fn *fn)
{
    ax_ctok toks[2][16];
    int nt[2] = {0, 0}, k = 0, depth = 1;
    bool plain = true;
    for (ax_ctok t = ax_clex_next(lx); t.kind != AX_CT_END; t = ax_clex_next(lx)) {
        if (ax_ctok_is(&t, "(")) depth++;
        if (ax_ctok_is(&t, ")") && --depth == 0) break;
        if (depth == 1 && ax_ctok_is(&t, ",")) {
            if (++k > 1) plain = false;
            continue;
        }
        if (t.kind != AX_CT_IDENT) plain = false; /* '*', '[', '...', nested parentheses */
        else if (k <= 1 && nt[k] < 16) toks[k][nt[k]++] = t;
    }
    if (!plain || k != 1 || nt[0] == 0 || nt[1] == 0) return false;
    for (int p = 0; p < 2; p++) {
        int n = nt[p];
        if (n >= 2 && !is_type_word(&toks[p][n - 1])) n--; /* the parameter's name */
        fn->param_type[p][0] = 0;
        for (int i = 0; i < n; i++) append_tok(fn->param_type[p], sizeof fn->param_type[p], &toks[p][i]);
        classify_param(fn, p);
    }
    return true;
}

/* Skips a braced body whose '{' was just read. */
static void skip_body(ax_clexer *lx)
{
    int depth = 1;
    for (ax_ctok t = ax_clex_next(lx); t.kind != AX_CT_END; t = ax_clex_next(lx)) {
        if (ax_ctok_is(&t, "{")) depth++;
        if (ax_ctok_is(&t, "}") && --depth == 0) return;
    }
}

typedef struct fn_scan {
    int n;               /* two-argument functions found */
    char names[256];     /* their names, comma-separated, for messages */
    bool found;          /* `want` found (or the first, without want) */
} fn_scan;

static void note_function(fn_scan *sc, const ax_cmodel_fn *cand, const char *want, ax_cmodel_fn *fn)
{
    sc->n++;
    size_t len = strlen(sc->names);
    snprintf(sc->names + len, sizeof sc->names - len, "%s%s", len ? ", " : "", cand->name);
    if (want ? !strcmp(want, cand->name) && !sc->found : sc->n == 1) {
        *fn = *cand;
        sc->found = true;
    }
}

/* Walks the top level: "ret-words NAME ( p1 , p2 ) {" is a candidate. */
static void scan_functions(const char *text, size_t len, const char *want, ax_cmodel_fn *fn, fn_scan *sc)
{
    ax_clexer lx;
    ax_cmodel_fn cand;
    char ret[64] = "";
    ax_ctok prev = {AX_CT_END, text, 0, 0};
    ax_clex_init(&lx, text, len);
    for (ax_ctok t = ax_clex_next(&lx); t.kind != AX_CT_END; prev = t, t = ax_clex_next(&lx)) {
        if (ax_ctok_is(&t, ";") || ax_ctok_is(&t, "}")) { ret[0] = 0; continue; }
        if (ax_ctok_is(&t, "{")) { skip_body(&lx); ret[0] = 0; continue; }
        if (!ax_ctok_is(&t, "(") || prev.kind != AX_CT_IDENT) {
            if (t.kind == AX_CT_IDENT) append_tok(ret, sizeof ret, &t);
            continue;
        }
        memset(&cand, 0, sizeof cand);
        size_t nl = prev.n < sizeof cand.name - 1 ? prev.n : sizeof cand.name - 1;
        memcpy(cand.name, prev.s, nl);
        /* ret holds the words up to and including the name: drop the name */
        size_t rl = strlen(ret);
        if (rl >= nl && !memcmp(ret + rl - nl, cand.name, nl)) ret[rl - nl] = 0;
        else ret[0] = 0; /* too many words to keep: the type is unknown */
        for (rl = strlen(ret); rl && ret[rl - 1] == ' ';) ret[--rl] = 0;
        ax_strlcpy(cand.ret_type, ret, sizeof cand.ret_type);
        bool two = read_params(&lx, &cand);
        ax_ctok next = ax_clex_next(&lx);
        bool is_def = ax_ctok_is(&next, "{");
        if (is_def) skip_body(&lx);
        if (two && is_def && strcmp(cand.name, "main") != 0 && !strstr(cand.ret_type, "void"))
            note_function(sc, &cand, want, fn);
        ret[0] = 0;
        prev = next;
        t = next;
        if (!is_def && !ax_ctok_is(&next, ";") && next.kind == AX_CT_IDENT) append_tok(ret, sizeof ret, &next);
    }
}

int ax_cmodel_find(const char *text, size_t len, const char *want, ax_cmodel_fn *fn, int *n_found,
                   const char *what, ax_error *err)
{
    fn_scan sc = {0, "", false};
    scan_functions(text, len, want, fn, &sc);
    if (n_found) *n_found = sc.n;
    if (sc.n == 0) return ax_fail(err, "%s: no function of two arguments defined (a multiplier f(a, w) expected)", what);
    if (want && !sc.found)
        return ax_fail(err, "%s: no function '%s' defined (two-argument functions found: %s)", what, want, sc.names);
    if (!want && sc.n > 1)
        return ax_fail(err, "%s: %d two-argument functions (%s); choose one with --function", what, sc.n, sc.names);
    return 0;
}

/* ---- hardware figures from the header comment ----------------------------- */

/* At p: "PDK<n>_<KEY> = <number> <unit>"; fills hw and returns true. */
static bool pdk_line(const char *p, const char *end, ax_hw_figures *hw)
{
    char buf[96];
    size_t n = (size_t)(end - p) < sizeof buf - 1 ? (size_t)(end - p) : sizeof buf - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
    char *nl = strchr(buf, '\n');
    if (nl) *nl = 0;
    int node = 0, used = 0;
    char key[16], unit[8] = "";
    double v;
    if (sscanf(buf, "PDK%d_%15[A-Z] = %lf %n", &node, key, &v, &used) != 3 || node <= 0 || node > 1000) return false;
    sscanf(buf + used, "%7s", unit);
    if (!strcmp(key, "PWR") || !strcmp(key, "POWER"))
        hw->power_mw = !strcmp(unit, "uW") ? v / 1000 : !strcmp(unit, "W") ? v * 1000 : v;
    else if (!strcmp(key, "AREA"))
        hw->area_um2 = v;
    else if (!strcmp(key, "DELAY"))
        hw->delay_ns = !strcmp(unit, "ps") ? v / 1000 : v;
    else
        return false;
    snprintf(hw->node, sizeof hw->node, "%dnm", node);
    return true;
}

void ax_cmodel_hw_figures(const char *text, size_t len, ax_hw_figures *hw)
{
    const char *end = text + len;
    for (const char *p = text; p + 3 < end; p++)
        if (p[0] == 'P' && p[1] == 'D' && p[2] == 'K') pdk_line(p, end, hw);
}

/* ---- compiling and loading -------------------------------------------------- */

/* $CC (split on blanks), else the compiler this library was built with. */
static int compiler_argv(char *store, size_t size, char **argv, int max)
{
    const char *cc = getenv("CC");
    if (!cc || !*cc) {
        cc = AX_C_COMPILER;
        const char *base = strrchr(cc, '/') ? strrchr(cc, '/') + 1 : cc;
        if (!strcmp(base, "ccache") || !strcmp(base, "sccache")) cc = "cc";
    }
    ax_strlcpy(store, cc, size);
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(store, " \t", &save); tok && n < max; tok = strtok_r(NULL, " \t", &save))
        argv[n++] = tok;
    return n;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        char p[PATH_MAX + 256];
        for (struct dirent *e; (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = fputs(text, f) >= 0;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int write_wrapper(const char *dir, const char *user_path, const char *fname, ax_error *err)
{
    char path[PATH_MAX + 32], src[PATH_MAX + 2048];
    snprintf(src, sizeof src,
             "#include <stdint.h>\n"
             "#include \"%s\"\n"
             "typedef __typeof__(%s(0, 0)) ax__ret_t;\n"
             "void ax__ret_info(int *info)\n"
             "{\n"
             "    info[0] = (int)sizeof(ax__ret_t);\n"
             "    info[1] = (ax__ret_t)-1 < (ax__ret_t)0;\n"
             "    info[2] = (ax__ret_t)0.5 != (ax__ret_t)0;\n"
             "}\n"
             "int ax__tabulate(int64_t *out, int s0, int s1)\n"
             "{\n"
             "    int bad = -1;\n"
             "    for (int x = 0; x < 256; x++)\n"
             "        for (int y = 0; y < 256; y++) {\n"
             "            ax__ret_t r = %s(s0 ? (int)(int8_t)x : x, s1 ? (int)(int8_t)y : y);\n"
             "            if ((ax__ret_t)0.5 != (ax__ret_t)0) {\n"
             "                double d = (double)r;\n"
             "                int whole = d == d && d > -9.0e18 && d < 9.0e18 && d == (double)(long long)d;\n"
             "                if (!whole && bad < 0) bad = x * 256 + y;\n"
             "                out[x * 256 + y] = whole ? (int64_t)d : 0;\n"
             "            } else {\n"
             "                out[x * 256 + y] = (int64_t)r;\n"
             "            }\n"
             "        }\n"
             "    return bad;\n"
             "}\n",
             user_path, fname, fname);
    snprintf(path, sizeof path, "%s/wrapper.c", dir);
    if (write_text(path, src) != 0) return ax_fail(err, "%s: cannot write the compile wrapper in %s", user_path, dir);
    return 0;
}

/* Waits for the compiler, killing it after COMPILE_TIMEOUT_S. */
static int wait_child(pid_t pid, bool *timed_out)
{
    int st = 0;
    struct timespec nap = {0, 10 * 1000 * 1000};
    *timed_out = false;
    for (long waited = 0;; waited += 10) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        if (r < 0 && errno != EINTR) return 127;
        if (waited > COMPILE_TIMEOUT_S * 1000L) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            *timed_out = true;
            return 128;
        }
        nanosleep(&nap, NULL);
    }
}

/* The first line of the compiler's output that says "error", else the first. */
static void first_error_line(const char *log_path, char *out, size_t size)
{
    char buf[8192], first[512] = "";
    out[0] = 0;
    FILE *f = fopen(log_path, "r");
    if (!f) return;
    while (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = 0;
        if (!first[0] && buf[0]) ax_strlcpy(first, buf, sizeof first);
        if (strstr(buf, "error")) {
            ax_strlcpy(out, buf, size);
            break;
        }
    }
    fclose(f);
    if (!out[0]) ax_strlcpy(out, first[0] ? first : "(no output)", size);
}

static int run_compiler(const char *dir, const char *user_path, ax_error *err)
{
    char store[1024], *argv[40], src[PATH_MAX + 32], so[PATH_MAX + 32], log[PATH_MAX + 32];
    int n = compiler_argv(store, sizeof store, argv, 32);
    if (n == 0) return ax_fail(err, "%s: no C compiler ($CC is blank)", user_path);
    snprintf(src, sizeof src, "%s/wrapper.c", dir);
    snprintf(so, sizeof so, "%s/model.so", dir);
    snprintf(log, sizeof log, "%s/compiler.log", dir);
    const char *extra[] = {"-shared", "-fPIC", "-O0", "-w", "-o", so, src};
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return ax_fail(err, "%s: cannot run the C compiler '%s': %s", user_path, argv[0], strerror(rc));
    bool timed_out;
    int status = wait_child(pid, &timed_out);
    if (timed_out) return ax_fail(err, "%s: the C compiler '%s' ran over %d s", user_path, argv[0], COMPILE_TIMEOUT_S);
    if (status != 0) {
        char line[AX_ERROR_MAX];
        first_error_line(log, line, sizeof line);
        return ax_fail(err, "%s: does not compile (%s): %s", user_path, argv[0], line);
    }
    return 0;
}

static int load_model(const char *dir, const char *user_path, ax_cmodel *cm, ax_error *err)
{
    char so[PATH_MAX + 32];
    snprintf(so, sizeof so, "%s/model.so", dir);
    cm->dl = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!cm->dl) return ax_fail(err, "%s: cannot load the compiled model: %s", user_path, dlerror());
    void (*info_fn)(int *);
    *(void **)&info_fn = dlsym(cm->dl, "ax__ret_info");
    *(void **)&cm->tabulate = dlsym(cm->dl, "ax__tabulate");
    if (!info_fn || !cm->tabulate) return ax_fail(err, "%s: the compiled model lacks its tabulating function", user_path);
    int info[3];
    info_fn(info);
    cm->ret.size = info[0];
    cm->ret.is_signed = info[1] != 0;
    cm->ret.is_float = info[2] != 0;
    return 0;
}

/* The user's file by absolute path, safe to put inside #include "...". */
static int include_path(const char *path, char out[PATH_MAX], ax_error *err)
{
    if (!realpath(path, out)) return ax_fail(err, "%s: cannot resolve the path: %s", path, strerror(errno));
    if (strpbrk(out, "\"\\\n\r"))
        return ax_fail(err, "%s: the path holds a quote, backslash or line break; rename the file to compile it", path);
    return 0;
}

int ax_cmodel_build(const char *path, const ax_cmodel_fn *fn, ax_cmodel **out, ax_error *err)
{
    char abs[PATH_MAX], dir[PATH_MAX];
    *out = NULL;
    if (include_path(path, abs, err) != 0) return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/ax-cmodel-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return ax_fail(err, "%s: cannot create a temporary folder: %s", path, strerror(errno));
    ax_cmodel *cm = calloc(1, sizeof *cm);
    int rc = cm ? 0 : ax_fail(err, "%s: out of memory", path);
    if (rc == 0) rc = write_wrapper(dir, abs, fn->name, err);
    if (rc == 0) rc = run_compiler(dir, path, err);
    if (rc == 0) rc = load_model(dir, path, cm, err);
    remove_dir(dir); /* a loaded object stays mapped after its file is gone */
    if (rc != 0) {
        ax_cmodel_close(cm);
        return -1;
    }
    *out = cm;
    return 0;
}

ax_cmodel_ret ax_cmodel_return_type(const ax_cmodel *cm) { return cm->ret; }

int ax_cmodel_run(ax_cmodel *cm, const bool signed_arg[2], int64_t out[AX_TABLE_SIZE], const char *what,
                  ax_error *err)
{
    int bad = cm->tabulate(out, signed_arg[0], signed_arg[1]);
    if (bad >= 0)
        return ax_fail(err, "%s: the model returned a value that is not a whole number for arguments (%d, %d)", what,
                       signed_arg[0] ? (int8_t)(bad >> 8) : bad >> 8, signed_arg[1] ? (int8_t)(bad & 255) : bad & 255);
    return 0;
}

void ax_cmodel_close(ax_cmodel *cm)
{
    if (!cm) return;
    if (cm->dl) dlclose(cm->dl);
    free(cm);
}
