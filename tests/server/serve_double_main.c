/* `sana serve` over the engine TEST DOUBLE (engine_double.c), for the server tests only. */
#include "server/serve.h"

int main(int argc, char **argv) { return sana_serve_cli(argc, argv); }
