/* The data-channel command parser and the lifecycle state machine, against the wire format of
 * reactor-protocol.md §7.1 / §11 (messages as SDK 2.9.0 serialises them). */
#include <stdlib.h>
#include <string.h>

#include "server/protocol.h"
#include "tests/test_util.h"

static int parse(const char *text, sana_cmd *c, char *reason) {
  return sana_cmd_parse(text, strlen(text), c, reason, 256);
}

static sana_cmd *cmd_of(const char *text) {
  static sana_cmd c;
  char reason[256];
  CHECK(parse(text, &c, reason) == 0, "%s: %s", text, reason);
  return &c;
}

static void expect_error(const char *text, const char *needle) {
  sana_cmd c;
  char reason[256] = "";
  CHECK(parse(text, &c, reason) == -1, "%s parsed", text);
  CHECK(strstr(reason, needle) != NULL, "%s: reason '%s' lacks '%s'", text, reason, needle);
}

static void test_parse(void) {
  sana_cmd *c = cmd_of("{\"scope\":\"application\",\"data\":{\"type\":\"set_prompt\",\"data\":{\"prompt\":\"Restyle as watercolor\"}}}");
  CHECK(c->kind == SANA_CMD_SET_PROMPT && !strcmp(c->prompt, "Restyle as watercolor"), "set_prompt");
  c = cmd_of("{\"scope\":\"application\",\"data\":{\"type\":\"start\"}}"); /* data omitted */
  CHECK(c->kind == SANA_CMD_START, "start without data");
  c = cmd_of("{\"scope\":\"application\",\"data\":{\"type\":\"set_video\",\"data\":{},\"uploads\":{\"video\":"
             "{\"upload_id\":\"0f1e-22\",\"name\":\"clip.mp4\",\"mime_type\":\"video/mp4\",\"size\":1234}}}}");
  CHECK(c->kind == SANA_CMD_SET_VIDEO && !strcmp(c->upload_id, "0f1e-22"), "set_video upload");
  c = cmd_of("{\"scope\":\"runtime\",\"data\":{\"type\":\"ping\",\"data\":{}}}");
  CHECK(c->kind == SANA_CMD_PING, "ping");
  c = cmd_of("{\"scope\":\"runtime\",\"data\":{\"type\":\"somethingNew\"}}");
  CHECK(c->kind == SANA_CMD_RUNTIME_OTHER, "unknown runtime types are ignored");
  c = cmd_of("{\"scope\":\"application\",\"data\":{\"type\":\"set_seed\",\"data\":{\"seed\":2147483647}}}");
  CHECK(c->seed == 2147483647, "max seed");
  c = cmd_of("{\"scope\":\"application\",\"data\":{\"type\":\"set_anchor_interval\",\"data\":{\"chunks\":0}}}");
  CHECK(c->kind == SANA_CMD_SET_ANCHOR_INTERVAL && c->anchor_chunks == 0, "anchor 0");
  c = cmd_of("{\"type\":\"set_mode\",\"data\":{\"mode\":\"live\"}}"); /* legacy envelope */
  CHECK(c->kind == SANA_CMD_SET_MODE && c->live == 1, "legacy set_mode");

  expect_error("{\"scope\":\"application\",\"data\":{\"type\":\"set_prompt\"", "malformed JSON");
  expect_error("[1,2]", "object");
  expect_error("{\"scope\":\"application\",\"data\":{\"type\":\"explode\"}}", "unknown command 'explode'");
  expect_error("{\"scope\":\"application\",\"data\":{\"type\":\"set_prompt\",\"data\":{\"prompt\":5}}}", "'prompt' must be a string");
  expect_error("{\"scope\":\"application\",\"data\":{\"type\":\"set_seed\",\"data\":{\"seed\":\"7\"}}}", "'seed' must be an integer");
  expect_error("{\"scope\":\"application\",\"data\":{\"type\":\"set_seed\",\"data\":{\"seed\":1.5}}}", "'seed' must be an integer");
  expect_error("{\"scope\":\"application\",\"data\":{\"type\":\"set_seed\",\"data\":{\"seed\":-1}}}", "[0, 2147483647]");
  expect_error("{\"scope\":\"application\",\"data\":{\"type\":\"set_seed\",\"data\":{\"seed\":1e300}}}", "[0, 2147483647]");
  expect_error("{\"scope\":\"application\",\"data\":{\"type\":\"set_mode\",\"data\":{\"mode\":\"tape\"}}}", "\"live\" or \"file\"");
  expect_error("{\"scope\":\"application\",\"data\":{\"type\":\"set_anchor_interval\",\"data\":{\"interval\":3}}}", "missing field 'chunks'");
  expect_error("{\"scope\":\"application\",\"data\":{\"type\":\"set_video\",\"data\":{}}}", "missing upload 'video'");
  expect_error("{\"scope\":\"application\",\"data\":{\"type\":\"set_video\",\"data\":{},\"uploads\":{\"video\":{\"upload_id\":\"../etc\"}}}}", "invalid 'upload_id'");
  expect_error("{\"scope\":\"galaxy\",\"data\":{\"type\":\"start\"}}", "'scope'");
  expect_error("{\"scope\":\"application\",\"data\":{\"type\":\"start\",\"data\":[]}}", "must be an object");

  /* The prompt limit: exactly SANA_PROMPT_MAX_BYTES passes, one more fails. */
  size_t n = SANA_PROMPT_MAX_BYTES;
  char *buf = malloc(n + 200);
  for (int extra = 0; extra < 2; extra++) {
    char *p = buf + sprintf(buf, "{\"scope\":\"application\",\"data\":{\"type\":\"set_prompt\",\"data\":{\"prompt\":\"");
    memset(p, 'a', n + extra);
    strcpy(p + n + extra, "\"}}}");
    sana_cmd c2;
    char reason[256] = "";
    int rc = parse(buf, &c2, reason);
    CHECK(extra ? rc == -1 && strstr(reason, "limit is 1000") : rc == 0, "prompt of %zu bytes: %s", n + extra, reason);
  }
  free(buf);
}

static void apply(sana_ctl *ctl, const char *text, int want_ok, unsigned want_act, const char *needle) {
  sana_cmd c;
  char reason[256] = "";
  CHECK(parse(text, &c, reason) == 0, "%s: %s", text, reason);
  unsigned act = 0;
  int rc = sana_ctl_apply(ctl, &c, &act, reason, sizeof reason);
  CHECK(rc == (want_ok ? 0 : -1), "%s: rc %d (%s)", text, rc, reason);
  if (want_ok) CHECK(act == want_act, "%s: actions %#x, want %#x", text, act, want_act);
  else CHECK(strstr(reason, needle) != NULL, "%s: reason '%s' lacks '%s'", text, reason, needle);
}

#define CMD(t, d) "{\"scope\":\"application\",\"data\":{\"type\":\"" t "\",\"data\":" d "}}"

static void test_lifecycle(void) {
  sana_ctl ctl;
  sana_ctl_init(&ctl);
  CHECK(!ctl.live && ctl.anchor_interval == 20, "defaults: file mode, anchor 20");
  apply(&ctl, CMD("start", "{}"), 0, 0, "no source");
  apply(&ctl, CMD("resume", "{}"), 0, 0, "not paused");
  apply(&ctl, CMD("pause", "{}"), 0, 0, "not running");
  apply(&ctl, CMD("set_mode", "{\"mode\":\"live\"}"), 1, 0, NULL);
  apply(&ctl, CMD("set_prompt", "{\"prompt\":\"oil painting\"}"), 1, SANA_ACT_ENGINE_PROMPT, NULL);
  apply(&ctl, CMD("set_video", "{\"video\":{\"upload_id\":\"ab\"}}"), 0, 0, "file mode");
  apply(&ctl, CMD("start", "{}"), 1, SANA_ACT_ENGINE_START, NULL);
  CHECK(ctl.running && ctl.started && !ctl.paused, "running after start");
  apply(&ctl, CMD("start", "{}"), 0, 0, "already started");
  apply(&ctl, CMD("set_mode", "{\"mode\":\"file\"}"), 0, 0, "reset first");
  apply(&ctl, CMD("pause", "{}"), 1, SANA_ACT_ENGINE_PAUSE, NULL);
  CHECK(ctl.paused && !ctl.running, "paused");
  apply(&ctl, CMD("resume", "{}"), 1, SANA_ACT_ENGINE_RESUME, NULL);
  apply(&ctl, CMD("set_seed", "{\"seed\":42}"), 1, 0, NULL);
  apply(&ctl, CMD("reset", "{}"), 1, SANA_ACT_ENGINE_RESET, NULL);
  CHECK(!ctl.started && !ctl.running && !ctl.has_prompt && ctl.live && ctl.seed == 42, "reset keeps mode and seed");

  char *st = sana_ctl_state_json(&ctl);
  CHECK(!strcmp(st, "{\"running\":false,\"started\":false,\"paused\":false,\"current_chunk\":0,\"current_prompt\":null,"
                    "\"seed\":42,\"has_video\":false,\"has_prompt\":false,\"num_source_frames\":0,\"mode\":\"live\","
                    "\"anchor_interval\":20}"),
        "state json: %s", st);
  free(st);
  char *env = sana_msg_envelope("application", "prompt_accepted", "{\"prompt\":\"x\"}");
  CHECK(!strcmp(env, "{\"scope\":\"application\",\"data\":{\"type\":\"prompt_accepted\",\"data\":{\"prompt\":\"x\"}}}"),
        "envelope: %s", env);
  free(env);
}

static void test_http_bodies(void) {
  sana_offer_req r;
  char reason[256] = "";
  const char *ok = "{\"sdp_offer\":\"v=0\\r\\n\",\"client_info\":{\"sdk_version\":\"2.9.0\",\"sdk_type\":\"js\"},"
                   "\"track_mapping\":[{\"mid\":\"0\",\"name\":\"main_video\",\"kind\":\"video\",\"direction\":\"recvonly\"},"
                   "{\"mid\":\"1\",\"name\":\"camera\",\"kind\":\"video\",\"direction\":\"sendonly\"}]}";
  CHECK(sana_offer_req_parse(ok, strlen(ok), &r, reason, sizeof reason) == 0, "offer body: %s", reason);
  CHECK(r.sdp && !strcmp(r.sdp, "v=0\r\n") && !strcmp(r.send_mid, "0") && !strcmp(r.recv_mid, "1"), "offer fields");
  sana_offer_req_clear(&r);
  const char *bad[][2] = {
      {"{not json", "not a JSON object"},
      {"{\"sdp_offer\":5,\"track_mapping\":[]}", "'sdp_offer' must be a string"},
      {"{\"sdp_offer\":\"v=0\"}", "'track_mapping' must be an array"},
      {"{\"sdp_offer\":\"v=0\",\"track_mapping\":[{\"mid\":1,\"name\":\"camera\"}]}", "string 'mid'"},
      {"{\"sdp_offer\":\"v=0\",\"track_mapping\":[{\"mid\":\"1\",\"name\":\"camera\"}]}", "no 'main_video'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    CHECK(sana_offer_req_parse(bad[i][0], strlen(bad[i][0]), &r, reason, sizeof reason) == -1 && strstr(reason, bad[i][1]),
          "offer body %s: '%s'", bad[i][0], reason);
    sana_offer_req_clear(&r);
  }
  sana_upload_req u;
  const char *up = "{\"name\":\"clip.mp4\",\"size\":1234,\"mime_type\":\"video/mp4\"}";
  CHECK(sana_upload_req_parse(up, strlen(up), 2000, &u, reason, sizeof reason) == 0 && u.size == 1234 &&
            !strcmp(u.name, "clip.mp4") && !strcmp(u.mime, "video/mp4"),
        "upload body: %s", reason);
  CHECK(sana_upload_req_parse(up, strlen(up), 1000, &u, reason, sizeof reason) == 413 && strstr(reason, "limit of 1000"),
        "upload over the limit: %s", reason);
  const char *neg = "{\"name\":\"a\",\"size\":-1}";
  CHECK(sana_upload_req_parse(neg, strlen(neg), 1000, &u, reason, sizeof reason) == 400, "negative size: %s", reason);
}

int main(void) {
  test_http_bodies();
  test_parse();
  test_lifecycle();
  return sana_test_done("test_server_protocol");
}
