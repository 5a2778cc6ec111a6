/* libFuzzer target: untrusted client input as the server parses it. Each input goes through
 * the data-channel command parser, the lifecycle state machine and the JSON writers, and
 * through the parsers of the sdp_params and uploads HTTP bodies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sana_ctl ctl; /* persists across inputs, so sequences of commands are explored too */
  static int init;
  if (!init) {
    sana_ctl_init(&ctl);
    init = 1;
  }
  sana_cmd cmd;
  char reason[256];
  if (sana_cmd_parse((const char *)data, size, &cmd, reason, sizeof reason) == 0) {
    unsigned act = 0;
    if (cmd.kind < SANA_CMD_PING && sana_ctl_apply(&ctl, &cmd, &act, reason, sizeof reason) == 0 &&
        (act & SANA_ACT_VALIDATE_VIDEO))
      sana_ctl_video_accepted(&ctl, cmd.upload_id, 40);
  }
  if (strlen(reason) >= sizeof reason) abort();
  sana_offer_req offer;
  if (sana_offer_req_parse((const char *)data, size, &offer, reason, sizeof reason) == 0) {
    if (!offer.sdp || !offer.send_mid[0]) abort();
    sana_offer_req_clear(&offer);
  }
  sana_upload_req up;
  if (sana_upload_req_parse((const char *)data, size, 1 << 20, &up, reason, sizeof reason) == 0 &&
      (up.size < 0 || up.size > (1 << 20)))
    abort();
  char *st = sana_ctl_state_json(&ctl);
  char *env = sana_msg_envelope("application", "state", st);
  if (!st || !env) abort();
  free(st);
  free(env);
  return 0;
}
