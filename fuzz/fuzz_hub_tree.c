/* libFuzzer target: a hub file listing (the answer of GET /api/models/{repo}/tree/...) through
 * sana_hub_parse_tree, as `sana fetch` does with what the network sends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sana_hub_file *files = NULL;
  int n = 0;
  sana_error err = {0};
  if (sana_hub_parse_tree((const char *)data, size, "fuzz", &files, &n, &err) == SANA_OK) {
    for (int i = 0; i < n; i++) {
      /* what the downloader relies on: bounded strings, a size, a hash of the right form */
      if (strlen(files[i].path) >= sizeof files[i].path || files[i].size < 0) abort();
      if (files[i].sha256[0] ? strlen(files[i].sha256) != 64 : strlen(files[i].git_oid) != 40) abort();
    }
  } else if (n != 0 || files != NULL || strlen(err.msg) >= sizeof err.msg) {
    abort();
  }
  free(files);
  return 0;
}
