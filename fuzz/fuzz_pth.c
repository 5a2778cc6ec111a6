/* libFuzzer target: a whole .pth image through the zip reader, the pickle interpreter and the
 * state-dict walk (io/pth.c). Seeds: the .pth files in tests/fixtures/pth. */
#include <stdint.h>

#include "fuzz/fuzz_util.h"
#include "io/pth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_sink s = {0};
  sana_error err;
  sana_pth_parse(data, size, "fuzz.pth", fuzz_push, fuzz_own, &s, &err);
  fuzz_sink_free(&s);
  return 0;
}
