/* libFuzzer target: the pickle interpreter alone (io/pickle.c), which mutations of a whole zip
 * rarely reach in depth. Seeds: tests/fixtures/pth/pickles (the data.pkl of each fixture). */
#include <stdint.h>

#include "io/pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sana_pickle *pk;
  sana_pk *root;
  sana_error err;
  if (!sana_pickle_load(&pk, data, size, "fuzz.pkl", &root, &err)) {
    /* the lookups the loader does on the result */
    const sana_pk *g = sana_pk_dict_get(root, "generator");
    sana_pk_dict_get(g ? g : root, "state_dict");
  }
  sana_pickle_free(pk);
  return 0;
}
