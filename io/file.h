/* Whole files: mapped (checkpoints) or read into memory (configs, indexes, tokenizers). */
#ifndef SANA_IO_FILE_H
#define SANA_IO_FILE_H

#include <stddef.h>

#include "core/error.h"

/* Maps a whole file read-only. *len = 0 and NULL for an empty file. */
sana_status sana_map_file(const char *path, void **addr, size_t *len, sana_error *err);

/* Reads a whole file (a config, an index, a tokenizer) into a NUL-terminated malloc'ed
 * buffer; *len (optional) is its size without the NUL. Files over `max` bytes are refused. */
sana_status sana_read_text(const char *path, size_t max, char **out, size_t *len, sana_error *err);

#endif
