/* cli.h - what the subcommands of the autoapprox command share: exit codes,
 * error lines, parsing of numbers, and the provenance every JSON carries. */
#ifndef AX_CLI_H
#define AX_CLI_H

#include "autoapprox/mult.h"
#include <json-c/json.h>
#include <stdbool.h>

enum { AX_EXIT_OK = 0, AX_EXIT_FAIL = 1, AX_EXIT_USAGE = 2 };

int cmd_mult(int argc, char **argv);
int cmd_systolic(int argc, char **argv);
int cmd_ppa(int argc, char **argv);
int cmd_quantize(int argc, char **argv);  /* nn: cmd_quantize.c */
int cmd_eval(int argc, char **argv);      /* nn: cmd_eval.c */
int cmd_data(int argc, char **argv);      /* data/: cmd_data.c */
int cmd_route(int argc, char **argv);     /* router: cmd_route.c */

/* "autoapprox: <message>" on stderr; returns code for `return cli_fail(...)`. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Whole-string numbers; false (and an error line naming the option) otherwise. */
bool cli_parse_double(const char *opt, const char *s, double *out);
bool cli_parse_i64(const char *opt, const char *s, int64_t *out);
/* One option of a subcommand: a string (str), a bounded integer (num), or a
 * flag without value (flag); exactly one target is set. */
typedef struct cli_opt {
    const char *name; /* "--topology" */
    const char **str;
    int64_t *num;
    int64_t min, max;
    bool *flag;
} cli_opt;
/* Parses argv[1..] of subcommand cmd: options from opts, other words into
 * pos (at most max_pos, counted in *n_pos; pos may be NULL when none are
 * allowed). Returns 0; 1 for --help/-h; or AX_EXIT_USAGE after printing one
 * line naming the bad option. */
int cli_parse_options(const char *cmd, int argc, char **argv, const cli_opt *opts, size_t n_opts,
                      const char **pos, size_t max_pos, size_t *n_pos);

/* The conv/FC layer shapes of an ONNX model (float or QDQ) as a topology
 * for the chip model; prints the error line and returns -1 on failure. */
struct ax_topology;
int cli_topology_of_model(const char *path, struct ax_topology **out);

/* {"tool": "autoapprox", "version", "git_revision", "command"} */
json_object *cli_provenance(const char *command);
/* Adds {"name", "sha256", "source"} of a multiplier table to an array. */
void cli_provenance_add_mult(json_object *prov, const ax_mult *m);
/* Serializes pretty JSON to path ("-" = stdout) whole or not at all. */
int cli_write_json(const char *path, json_object *obj);

#endif
