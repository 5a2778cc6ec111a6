/* Commands whose implementation has not landed yet answer with a clear message. Each is a
 * weak symbol: the real cli/cmd_<name>.c overrides it, and its line here is then deleted. */
#include <stdio.h>

#include "cli/commands.h"

static int pending(const char *name) {
  fprintf(stderr, "sana %s: not available in this build yet\n", name);
  return 3;
}

#define PENDING(fn, name) \
  __attribute__((weak)) int fn(int argc, char **argv) { return pending(name); }

PENDING(cmd_edit, "edit")
PENDING(cmd_serve, "serve")
PENDING(cmd_bench, "bench")
PENDING(cmd_fetch, "fetch") /* kept: cmd_fetch.c is left out of builds without libcurl */
PENDING(cmd_info, "info")
