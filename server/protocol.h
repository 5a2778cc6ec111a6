/* The SANA-Streaming command protocol of the Reactor data channel (reactor-protocol.md §7, §11),
 * free of GLib and GStreamer so that it can be fuzzed and unit-tested on its own.
 *
 * Two halves:
 *  - sana_cmd_parse: one untrusted text frame -> a typed command, or a reason naming the field;
 *  - sana_ctl_apply: the lifecycle state machine (IDLE / RUNNING / PAUSED) that accepts or
 *    rejects a command and says which engine actions follow. The server turns the result into
 *    `state`, acknowledgements and `command_error` messages. */
#ifndef SANA_SERVER_PROTOCOL_H
#define SANA_SERVER_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

/* Published limits (also in modelCapabilities and the README). */
#define SANA_PROMPT_MAX_BYTES 1000     /* UTF-8 bytes of a prompt */
#define SANA_SEED_MAX 2147483647LL     /* seeds are 0 .. 2^31-1 */
#define SANA_ANCHOR_MAX 1000           /* set_anchor_interval chunks: 0 (off) .. 1000 */
#define SANA_ANCHOR_DEFAULT 20
#define SANA_MESSAGE_MAX_BYTES 65536   /* a data-channel frame longer than this is rejected */
#define SANA_ID_MAX 64                 /* upload ids and names kept from a command */

typedef enum sana_cmd_kind {
  SANA_CMD_NONE = 0,
  /* application scope */
  SANA_CMD_SET_MODE,
  SANA_CMD_SET_VIDEO,
  SANA_CMD_SET_PROMPT,
  SANA_CMD_SET_SEED,
  SANA_CMD_SET_ANCHOR_INTERVAL,
  SANA_CMD_START,
  SANA_CMD_PAUSE,
  SANA_CMD_RESUME,
  SANA_CMD_RESET,
  /* runtime scope */
  SANA_CMD_PING,
  SANA_CMD_REQUEST_CAPABILITIES,
  SANA_CMD_FILE_UPLOADED,
  SANA_CMD_RUNTIME_OTHER, /* unknown runtime types are ignored (§7.2) */
} sana_cmd_kind;

typedef struct sana_cmd {
  sana_cmd_kind kind;
  char name[32];          /* the wire `type` (truncated) for command_error, "" if absent */
  int live;               /* set_mode: 1 = live, 0 = file */
  char prompt[SANA_PROMPT_MAX_BYTES + 1];
  int64_t seed;
  int anchor_chunks;
  char upload_id[SANA_ID_MAX]; /* set_video: uploads.video.upload_id */
} sana_cmd;

/* Parses one data-channel text frame. Returns 0 on success; otherwise -1 with `reason` filled
 * (a sentence naming the field) and out->name set to the command name when it could be read. */
int sana_cmd_parse(const char *text, size_t len, sana_cmd *out, char *reason, size_t reason_size);

const char *sana_cmd_kind_name(sana_cmd_kind k);

/* The session's generation state, as reported in `state`. */
typedef struct sana_ctl {
  int live;              /* mode: 1 = live camera, 0 = file (the deployed default) */
  int started;           /* a run was started and not reset */
  int running;           /* generating (started and not paused) */
  int paused;
  int current_chunk;     /* chunks completed in this run */
  int has_prompt;
  char prompt[SANA_PROMPT_MAX_BYTES + 1];
  int64_t seed;
  int anchor_interval;
  int has_video;         /* an uploaded clip was accepted (file mode) */
  char video_id[SANA_ID_MAX];
  int num_source_frames; /* of the accepted clip */
} sana_ctl;

void sana_ctl_init(sana_ctl *c);

/* What the server must do after an accepted command. */
enum {
  SANA_ACT_ENGINE_START = 1 << 0,  /* create the stream and begin generating */
  SANA_ACT_ENGINE_PAUSE = 1 << 1,
  SANA_ACT_ENGINE_RESUME = 1 << 2,
  SANA_ACT_ENGINE_RESET = 1 << 3,  /* drop the stream and queued frames */
  SANA_ACT_ENGINE_PROMPT = 1 << 4, /* forward the prompt to the running stream */
  SANA_ACT_VALIDATE_VIDEO = 1 << 5, /* decode-check the upload before video_accepted */
};

/* Applies an application-scope command. Returns 0 and sets *actions when accepted; -1 with
 * `reason` when a precondition fails (the state is then unchanged). set_video only checks the
 * mode and the upload id: the caller validates the bytes, then calls sana_ctl_video_accepted. */
int sana_ctl_apply(sana_ctl *c, const sana_cmd *cmd, unsigned *actions, char *reason, size_t reason_size);

void sana_ctl_video_accepted(sana_ctl *c, const char *upload_id, int num_frames);

/* JSON text of the `state` message data / the full envelopes. Caller frees with free(). */
char *sana_ctl_state_json(const sana_ctl *c);

/* {"scope":"application","data":{"type":type,"data":<data_json>}} (data_json may be NULL = {}). */
char *sana_msg_envelope(const char *scope, const char *type, const char *data_json);

/* Bodies of the HTTP endpoints that carry client data (also untrusted, also fuzzed). */
typedef struct sana_offer_req {
  char *sdp;          /* owned; free with sana_offer_req_clear */
  char send_mid[32];  /* the `main_video` mid */
  char recv_mid[32];  /* the `camera` mid, "" if not mapped */
} sana_offer_req;

/* POST/PUT sdp_params: {sdp_offer, track_mapping:[{mid, name, ...}], client_info}. */
int sana_offer_req_parse(const char *body, size_t len, sana_offer_req *out, char *reason, size_t reason_size);
void sana_offer_req_clear(sana_offer_req *r);

typedef struct sana_upload_req {
  char name[256];
  char mime[128];
  double size;
} sana_upload_req;

/* POST uploads: {name, size, mime_type}. Returns 0, or the HTTP status to answer (400, or 413
 * when the declared size exceeds max_bytes) with `reason`. */
int sana_upload_req_parse(const char *body, size_t len, long max_bytes, sana_upload_req *out, char *reason,
                          size_t reason_size);

/* The modelCapabilities data: the commands with their published limits. */
char *sana_capabilities_json(void);

#endif
