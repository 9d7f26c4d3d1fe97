/* hpinn_main.c — the hpinn executable: the command itself lives in libhpinn
 * (hp_cli_main, core/cli/main.c), so the program and every plugin it loads share
 * one copy of the library. */
#include "hpinn/hpinn.h"

int main(int argc, char **argv) { return hp_cli_main(argc, argv); }
