/* test_util.c - helpers shared by the Criterion suites. */
#include "test_util.h"

#include "autoapprox/mult.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char *ax_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    char *p = malloc(strlen(base) + 32);
    sprintf(p, "%s/axtest.XXXXXX", base);
    if (!mkdtemp(p)) { free(p); return NULL; }
    return p;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

void ax_test_rmtree(const char *dir)
{
    if (dir) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *ax_test_path(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

int ax_test_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && n == len) ? 0 : -1;
}

bool ax_test_reduced(void)
{
    const char *r = getenv("AX_TEST_REDUCED");
    return r && *r && strcmp(r, "0") != 0;
}

static char *slurp_fd(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    return buf;
}

int ax_test_cli(char **out, char **errout, const char *const *argv)
{
    const char *cli = getenv("AX_CLI");
    if (!cli) return -1;
    char tmpl_o[] = "/tmp/axcli.outXXXXXX", tmpl_e[] = "/tmp/axcli.errXXXXXX";
    int fo = mkstemp(tmpl_o), fe = mkstemp(tmpl_e);
    unlink(tmpl_o);
    unlink(tmpl_e);
    size_t n = 0;
    while (argv[n]) n++;
    char **args = calloc(n + 2, sizeof *args);
    args[0] = (char *)cli;
    for (size_t i = 0; i < n; i++) args[i + 1] = (char *)argv[i];
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fo, 1);
        dup2(fe, 2);
        execv(cli, args);
        _exit(127);
    }
    free(args);
    int st = 0;
    waitpid(pid, &st, 0);
    lseek(fo, 0, SEEK_SET);
    lseek(fe, 0, SEEK_SET);
    char *o = slurp_fd(fo), *e = slurp_fd(fe);
    close(fo);
    close(fe);
    if (out) *out = o; else free(o);
    if (errout) *errout = e; else free(e);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct ax_mult *ax_test_fold_u8(struct ax_mult *t)
{
    ax_mult *f = ax_mult_new();
    if (!f) abort();
    f->act = f->wgt = AX_S8;
    snprintf(f->name, sizeof f->name, "folded-%.48s", t->name);
    for (unsigned x = 0; x < 256; x++)
        for (unsigned v = 0; v < 256; v++)
            f->table[x * 256 + v] = t->table[(x ^ 0x80) * 256 + (v ^ 0x80)] - 128 * (int32_t)(x ^ 0x80);
    ax_mult_free(t);
    return f;
}

struct ax_mult *ax_test_wide_error_u8(void)
{
    ax_mult *m = ax_mult_new();
    if (!m) abort();
    m->act = m->wgt = AX_U8;
    snprintf(m->name, sizeof m->name, "wide-error-u8");
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) {
        int32_t a = (int32_t)(i >> 8), w = (int32_t)(i & 255);
        m->table[i] = a * w + (a >> 7) * (w * w / 4);
    }
    return m;
}
