/* main.c - the autoapprox command: dispatches to one file per subcommand. */
#include "cli.h"

#include "ax_config.h"
#include "ax_git_revision.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: autoapprox <command> [options]\n"
    "\n"
    "AutoApprox designs low-power DNN accelerators from approximate 8-bit multipliers\n"
    "and proves, by bit-exact emulation, which layers lose no accuracy.\n"
    "\n"
    "commands:\n"
    "  mult list                      built-in families and named multipliers\n"
    "  mult info SPEC [--json]        error metrics and hardware figures\n"
    "  mult gen SPEC -o OUT.axm       generate a table from a built-in family\n"
    "  mult import FILE -o OUT.axm    import a table (raw, npy, C header, CSV, text, C model)\n"
    "  systolic --topology T.csv      map every layer onto a weight-stationary systolic array\n"
    "  ppa --topology T.csv [--assign A.json] [--chip C.json]\n"
    "                                 chip power, performance and area, against all-exact\n"
    "  quantize --model M --calib D -o Q.onnx\n"
    "                                 post-training quantization into a QDQ ONNX model\n"
    "  eval --model M --data D [--mult SPEC | --assign A.json]\n"
    "                                 accuracy of a quantized network with per-layer multipliers\n"
    "  data export --data D -o OUT.npy\n"
    "                                 a data set preprocessed as the model sees it (NumPy)\n"
    "  route --model M --data D --bank SPEC,... -o A.json\n"
    "                                 assign every layer to an array of the bank: lowest chip\n"
    "                                 power with no loss of top-1/top-5 (the end-to-end flow)\n"
    "\n"
    "autoapprox <command> --help tells more; autoapprox --version prints the version.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return AX_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return AX_EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("autoapprox %s (git %s)\n", AX_VERSION, AX_GIT_REVISION);
        return AX_EXIT_OK;
    }
    if (!strcmp(cmd, "mult")) return cmd_mult(argc - 1, argv + 1);
    if (!strcmp(cmd, "systolic")) return cmd_systolic(argc - 1, argv + 1);
    if (!strcmp(cmd, "ppa")) return cmd_ppa(argc - 1, argv + 1);
    if (!strcmp(cmd, "quantize")) return cmd_quantize(argc - 1, argv + 1); /* nn: network runtime */
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);         /* nn: network runtime */
    if (!strcmp(cmd, "data")) return cmd_data(argc - 1, argv + 1);         /* data/: datasets */
    if (!strcmp(cmd, "route")) return cmd_route(argc - 1, argv + 1);       /* router */
    return cli_fail(AX_EXIT_USAGE, "unknown command '%s' (autoapprox --help lists them)", cmd);
}
