/* libFuzzer target: a client's SDP offer (untrusted) through the offer inspection of
 * server/sdp.c, with the mids of SDK 2.9.0's track_mapping. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = 0;
  sana_sdp_choice c;
  GstSDPMessage *msg = NULL;
  char error[256];
  if (sana_sdp_inspect(text, "0", "1", "h264,vp8", &c, &msg, error, sizeof error) == 0) {
    if (!msg || c.send_idx < 0 || c.send_pt < 0 || !c.send_codec[0]) abort();
    gst_sdp_message_free(msg);
  }
  free(text);
  return 0;
}
