/* libFuzzer target: cJSON as our loaders use it (safetensors headers, model config.json):
 * parse with an explicit length, walk every node the way a reader would, print, parse again.
 * Seeds: fuzz/corpus/json. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static unsigned walk(const cJSON *j, int depth) {
  unsigned h = 0;
  for (; j; j = j->next) {
    if (j->string) h += (unsigned)strlen(j->string);
    if (cJSON_IsString(j)) h += (unsigned)strlen(j->valuestring);
    if (cJSON_IsNumber(j)) h += (unsigned)(j->valuedouble == j->valuedouble);
    if (cJSON_IsArray(j) || cJSON_IsObject(j)) {
      h += (unsigned)cJSON_GetArraySize(j);
      if (j->string) h += cJSON_GetObjectItemCaseSensitive(j, j->string) != NULL;
      if (depth < 64) h += walk(j->child, depth + 1);
    }
  }
  return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *root = cJSON_ParseWithLength((const char *)data, size);
  if (!root) return 0;
  volatile unsigned h = walk(root, 0);
  (void)h;
  char *out = cJSON_PrintUnformatted(root);
  if (out) {
    cJSON *again = cJSON_Parse(out);
    cJSON_Delete(again);
    free(out);
  }
  cJSON_Delete(root);
  return 0;
}
