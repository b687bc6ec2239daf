/* test_cli.c - the autoapprox command as users meet it: exit codes, one-line
 * errors naming the input, JSON keys, and no half-written output. */
#include "autoapprox/mult.h"
#include "test_util.h"

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int run(char **out, char **err, const char *const *argv)
{
    int rc = ax_test_cli(out, err, argv);
    cr_assert_neq(rc, -1, "AX_CLI not set");
    return rc;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

Test(cli, help_and_usage_errors)
{
    char *out, *err;
    cr_assert_eq(run(&out, &err, (const char *[]){"--help", NULL}), 0);
    cr_assert(strstr(out, "mult info") != NULL);
    free(out), free(err);
    cr_assert_eq(run(&out, &err, (const char *[]){"frobnicate", NULL}), 2);
    cr_assert(strstr(err, "frobnicate") != NULL);
    cr_assert_eq(count_lines(err), 1, "%s", err);
    free(out), free(err);
    cr_assert_eq(run(&out, &err, (const char *[]){"mult", "info", NULL}), 2);
    free(out), free(err);
    cr_assert_eq(run(&out, &err, (const char *[]){"mult", "import", "x.bin", "--format", "bogus", "-o", "y.axm", NULL}), 2);
    cr_assert(strstr(err, "bogus") != NULL);
    free(out), free(err);
}

Test(cli, list_shows_every_family)
{
    char *out, *err;
    cr_assert_eq(run(&out, &err, (const char *[]){"mult", "list", NULL}), 0, "%s", err);
    for (size_t i = 0; i < ax_family_count(); i++)
        cr_assert(strstr(out, ax_family_at(i)->name) != NULL, "%s missing", ax_family_at(i)->name);
    free(out), free(err);
}

Test(cli, info_json_has_the_contract_keys)
{
    char *out, *err;
    cr_assert_eq(run(&out, &err, (const char *[]){"mult", "info", "trunc-s8:k=6", "--json", NULL}), 0, "%s", err);
    json_object *o = json_tokener_parse(out);
    cr_assert_not_null(o, "not JSON: %s", out);
    static const char *const keys[] = {"name", "activation", "weight", "mae", "wce", "mre", "ep", "mse", "bias",
                                       "variance", "provenance"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        json_object *v;
        cr_assert(json_object_object_get_ex(o, keys[i], &v), "key %s missing", keys[i]);
    }
    json_object *v;
    json_object_object_get_ex(o, "activation", &v);
    cr_assert_str_eq(json_object_get_string(v), "s8");
    json_object_object_get_ex(o, "mae", &v);
    cr_assert_gt(json_object_get_double(v), 0);
    json_object_put(o);
    free(out), free(err);
}

Test(cli, unknown_spec_is_one_line_and_exit_1)
{
    char *out, *err;
    cr_assert_eq(run(&out, &err, (const char *[]){"mult", "info", "nosuch-s8:k=1", NULL}), 1);
    cr_assert(strstr(err, "nosuch") != NULL, "%s", err);
    cr_assert_eq(count_lines(err), 1, "%s", err);
    free(out), free(err);
    cr_assert_eq(run(&out, &err, (const char *[]){"mult", "info", "trunc-s8:q=1", NULL}), 1);
    cr_assert(strstr(err, "q") != NULL, "%s", err);
    free(out), free(err);
}

Test(cli, gen_then_info_and_import_round_trip)
{
    char *dir = ax_test_tmpdir();
    char *axm = ax_test_path(dir, "t.axm"), *again = ax_test_path(dir, "again.axm");
    char *out, *err;
    cr_assert_eq(run(&out, &err, (const char *[]){"mult", "gen", "drum-u8:k=4", "-o", axm, NULL}), 0, "%s", err);
    free(out), free(err);
    cr_assert_eq(run(&out, &err, (const char *[]){"mult", "info", axm, NULL}), 0, "%s", err);
    cr_assert(strstr(out, "drum-u8:k=4") != NULL, "%s", out);
    free(out), free(err);
    cr_assert_eq(run(&out, &err, (const char *[]){"mult", "import", axm, "-o", again, NULL}), 0, "%s", err);
    free(out), free(err);
    ax_mult *a, *b, *ref;
    ax_error e;
    cr_assert_eq(ax_mult_load(axm, &a, &e), 0, "%s", e.msg);
    cr_assert_eq(ax_mult_load(again, &b, &e), 0, "%s", e.msg);
    cr_assert_eq(ax_mult_from_family_spec("drum-u8:k=4", &ref, &e), 0, "%s", e.msg);
    cr_assert_eq(memcmp(a->table, ref->table, sizeof a->table), 0);
    cr_assert_eq(memcmp(b->table, ref->table, sizeof b->table), 0);
    ax_mult_free(a), ax_mult_free(b), ax_mult_free(ref);
    free(axm), free(again);
    ax_test_rmtree(dir);
    free(dir);
}

Test(cli, failures_write_nothing)
{
    char *dir = ax_test_tmpdir();
    char *bad = ax_test_path(dir, "bad.bin"), *outp = ax_test_path(dir, "out.axm");
    cr_assert_eq(ax_test_write(bad, "not a table", 11), 0);
    char *out, *err;
    cr_assert_eq(run(&out, &err, (const char *[]){"mult", "import", bad, "-o", outp, NULL}), 1);
    cr_assert(strstr(err, bad) != NULL, "error names the input: %s", err);
    cr_assert_eq(count_lines(err), 1, "%s", err);
    cr_assert_neq(access(outp, F_OK), 0, "no output file after a failure");
    free(out), free(err);
    char *nodir = ax_test_path(dir, "no/such/dir/x.axm");
    cr_assert_eq(run(&out, &err, (const char *[]){"mult", "gen", "exact-s8", "-o", nodir, NULL}), 1);
    free(out), free(err);
    free(bad), free(outp), free(nodir);
    ax_test_rmtree(dir);
    free(dir);
}
