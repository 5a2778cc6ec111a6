/* Subcommands of `sana`. Each lives in its own cli/cmd_<name>.c. */
#ifndef SANA_CLI_COMMANDS_H
#define SANA_CLI_COMMANDS_H

int cmd_edit(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_dit_run(int argc, char **argv);
int cmd_vae_run(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_encode_prompt(int argc, char **argv);

#endif
