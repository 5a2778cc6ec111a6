/* `sana serve`: see server/serve.h. Compiled in only when cmake/server.cmake found the server's
 * dependencies and the engine; otherwise cli/pending.c answers. */
#ifdef SANA_HAVE_SERVER
#include "cli/commands.h"
#include "server/serve.h"

int cmd_serve(int argc, char **argv) { return sana_serve_cli(argc, argv); }
#else
typedef int sana_serve_not_built; /* ISO C forbids an empty translation unit */
#endif
