/* `sana`: one program, several drivers over the same engine. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *help;
} command;

static const command commands[] = {
    {"edit", cmd_edit, "edit a video file with a text prompt"},
    {"serve", cmd_serve, "serve live editing sessions (Reactor protocol, WebRTC)"},
    {"bench", cmd_bench, "measure per-stage speed and memory"},
    {"fetch", cmd_fetch, "download the official weights"},
    {"info", cmd_info, "describe a weights directory"},
    {"dit-run", cmd_dit_run, "run the streaming DiT on tensors from a safetensors file"},
    {"vae-run", cmd_vae_run, "run the VAE encoder/decoder on tensors from a safetensors file"},
    {"tokenize", cmd_tokenize, "print Gemma token ids of each input line"},
    {"encode-prompt", cmd_encode_prompt, "encode a prompt to the DiT's text embedding"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: sana <command> [options]   (sana <command> --help for details)\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "sana: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
