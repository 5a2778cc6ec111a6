/* A read-only zip directory over a memory image (the mmapped .pth): end of central directory,
 * zip64 records where sizes or offsets pass 4 GB, central directory, local headers. Entries are
 * read in place; only stored (uncompressed) entries can be read, which is what torch.save
 * writes. Every offset is checked against the image, so any bytes are safe to open. */
#ifndef SANA_IO_ZIP_H
#define SANA_IO_ZIP_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct sana_zip_entry {
  const char *name; /* points into the image, not NUL-terminated */
  size_t name_len;
  uint64_t local_offset, csize, usize;
  int method, flags;
} sana_zip_entry;

typedef struct sana_zip {
  const unsigned char *p;
  size_t len;
  const char *label; /* the file, for messages */
  sana_zip_entry *e;
  size_t n;
} sana_zip;

sana_status sana_zip_open(sana_zip *z, const void *image, size_t len, const char *label, sana_error *err);
void sana_zip_close(sana_zip *z);

/* The entry named exactly `name`, or NULL. */
const sana_zip_entry *sana_zip_find(const sana_zip *z, const char *name);

/* The bytes of a stored entry (pointing into the image); refuses compressed or encrypted ones. */
sana_status sana_zip_data(const sana_zip *z, const sana_zip_entry *e, const unsigned char **data, sana_error *err);

#endif
