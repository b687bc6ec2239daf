/* listing.c - which files a folder of photographs holds, in torchvision's
 * order: ImageFolder (class = sorted sub-folder name, files found by a
 * recursive walk, sorted) and a flat folder (sorted file names). Names are
 * sorted with strcmp, which orders UTF-8 as Python's sorted() orders str.
 * A file counts when its name ends (any case) in one of torchvision's
 * IMG_EXTENSIONS, so the listing and class indices are torchvision's even
 * when a file turns out not to be a JPEG (it is then a bad item). */
#include "data_internal.h"

#include "lut/ax_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_DEPTH 32 /* symbolic-link loops end here */

static const char *const img_ext[] = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};

static bool ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

bool ax_listing_is_image(const char *name)
{
    for (size_t i = 0; i < sizeof img_ext / sizeof *img_ext; i++)
        if (ends_with_ci(name, img_ext[i])) return true;
    return false;
}

bool ax_listing_is_jpeg_name(const char *name)
{
    return ends_with_ci(name, ".jpg") || ends_with_ci(name, ".jpeg");
}

typedef struct strv {
    size_t n, cap;
    char **v;
} strv;

static int strv_push(strv *s, const char *str)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v) return -1;
        s->v = v, s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(str))) return -1;
    s->n++;
    return 0;
}

static void strv_free(strv *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Entries of dir split into folders and image files (names only, sorted);
 * stat follows links, as os.walk(followlinks=True) and is_dir() do. */
static int read_dir(const char *dir, strv *dirs, strv *files, ax_error *err)
{
    DIR *d = opendir(dir);
    if (!d) return ax_fail(err, "%s: cannot open folder (%s)", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = join(dir, e->d_name);
        struct stat st;
        bool is_dir = p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
        if (!p) rc = -1;
        else if (is_dir && dirs) rc = strv_push(dirs, e->d_name);
        else if (!is_dir && files && ax_listing_is_image(e->d_name)) rc = strv_push(files, e->d_name);
        free(p);
    }
    closedir(d);
    if (rc) return ax_fail(err, "%s: out of memory while listing", dir);
    if (dirs && dirs->n) qsort(dirs->v, dirs->n, sizeof *dirs->v, cmp_str);
    if (files && files->n) qsort(files->v, files->n, sizeof *files->v, cmp_str);
    return 0;
}

void ax_listing_free(ax_listing *l)
{
    for (size_t i = 0; i < l->count; i++) free(l->paths[i]);
    free(l->paths);
    free(l->labels);
    memset(l, 0, sizeof *l);
}

static int add_item(ax_listing *l, char *path, size_t label)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        char **p = realloc(l->paths, cap * sizeof *p);
        if (p) l->paths = p;
        size_t *lb = p ? realloc(l->labels, cap * sizeof *lb) : NULL;
        if (!lb) {
            free(path);
            return -1;
        }
        l->labels = lb, l->cap = cap;
    }
    l->paths[l->count] = path;
    l->labels[l->count++] = label;
    return 0;
}

/* Every folder under root (root included), by depth-first collection. */
static int collect_dirs(const char *root, int depth, strv *all, ax_error *err)
{
    if (strv_push(all, root) != 0) return ax_fail(err, "%s: out of memory while listing", root);
    if (depth >= MAX_DEPTH) return 0;
    strv sub = {0};
    if (read_dir(root, &sub, NULL, err) != 0) return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sub.n; i++) {
        char *p = join(root, sub.v[i]);
        rc = p ? collect_dirs(p, depth + 1, all, err) : ax_fail(err, "%s: out of memory", root);
        free(p);
    }
    strv_free(&sub);
    return rc;
}

/* torchvision's make_dataset for one class: sorted(os.walk(dir)), then
 * sorted file names in each folder. */
static int add_class(const char *cdir, size_t label, ax_listing *l, ax_error *err)
{
    strv dirs = {0};
    int rc = collect_dirs(cdir, 0, &dirs, err);
    if (rc == 0 && dirs.n) qsort(dirs.v, dirs.n, sizeof *dirs.v, cmp_str);
    for (size_t i = 0; rc == 0 && i < dirs.n; i++) {
        strv files = {0};
        rc = read_dir(dirs.v[i], NULL, &files, err);
        for (size_t j = 0; rc == 0 && j < files.n; j++) {
            char *p = join(dirs.v[i], files.v[j]);
            if (!p || add_item(l, p, label) != 0) rc = ax_fail(err, "%s: out of memory while listing", cdir);
        }
        strv_free(&files);
    }
    strv_free(&dirs);
    return rc;
}

int ax_listing_imagefolder(const char *dir, ax_listing *out, ax_error *err)
{
    memset(out, 0, sizeof *out);
    strv classes = {0};
    if (read_dir(dir, &classes, NULL, err) != 0) return -1;
    if (classes.n == 0) {
        strv files = {0};
        int rc = read_dir(dir, NULL, &files, err);
        size_t n = files.n;
        strv_free(&classes), strv_free(&files);
        if (rc) return -1;
        if (n) return ax_fail(err, "%s: a flat folder of %zu images needs a labels file (--labels), "
                                   "or one sub-folder per class", dir, n);
        return ax_fail(err, "%s: no images (.jpg, .jpeg, ...) and no class sub-folders in this folder", dir);
    }
    int rc = 0;
    for (size_t c = 0; rc == 0 && c < classes.n; c++) {
        size_t before = out->count;
        char *cdir = join(dir, classes.v[c]);
        rc = cdir ? add_class(cdir, c, out, err) : ax_fail(err, "%s: out of memory", dir);
        if (rc == 0 && out->count == before)
            rc = ax_fail(err, "%s: class folder '%s' holds no image (.jpg, .jpeg, ... as torchvision's ImageFolder)",
                         dir, classes.v[c]);
        free(cdir);
    }
    out->num_classes = classes.n;
    strv_free(&classes);
    if (rc) ax_listing_free(out);
    return rc;
}

int ax_listing_flat(const char *dir, ax_listing *out, ax_error *err)
{
    memset(out, 0, sizeof *out);
    strv files = {0};
    if (read_dir(dir, NULL, &files, err) != 0) return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < files.n; i++) {
        char *p = join(dir, files.v[i]);
        if (!p || add_item(out, p, 0) != 0) rc = ax_fail(err, "%s: out of memory while listing", dir);
    }
    strv_free(&files);
    if (rc == 0 && out->count == 0) rc = ax_fail(err, "%s: no images (.jpg, .jpeg, ...) in this folder", dir);
    if (rc) ax_listing_free(out);
    return rc;
}
