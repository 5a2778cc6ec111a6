#include "io/file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

sana_status sana_map_file(const char *path, void **addr, size_t *len, sana_error *err) {
  *addr = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sana_err(err, SANA_ERR_IO, "%s: cannot open", path);
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    close(fd);
    return sana_err(err, SANA_ERR_IO, "%s: not a regular file", path);
  }
  if (st.st_size == 0) {
    close(fd);
    return SANA_OK;
  }
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return sana_err(err, SANA_ERR_IO, "%s: cannot map", path);
  *addr = p;
  *len = (size_t)st.st_size;
  return SANA_OK;
}

sana_status sana_read_text(const char *path, size_t max, char **out, size_t *len, sana_error *err) {
  *out = NULL;
  void *map;
  size_t n;
  sana_status s = sana_map_file(path, &map, &n, err);
  if (s) return s;
  if (n > max) {
    munmap(map, n);
    return sana_err(err, SANA_ERR_FORMAT, "%s: %zu bytes, more than the %zu expected of this file", path, n, max);
  }
  char *t = malloc(n + 1);
  if (!t) {
    if (map) munmap(map, n);
    return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", path);
  }
  if (n) memcpy(t, map, n);
  t[n] = 0;
  if (map) munmap(map, n);
  *out = t;
  if (len) *len = n;
  return SANA_OK;
}
