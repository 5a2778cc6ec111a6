/* A session: its generation state, its peer, its engine worker and the paced sender. */
#include "server/session.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "server/media.h"

#define SLOG(s, lvl, fmt, ...) sana_log(lvl, "session %.8s: " fmt, (s)->id, ##__VA_ARGS__)

/* ---- messages to the client ---- */

static void send_msg(sana_session *s, const char *scope, const char *type, const char *data_json) {
  char *env = sana_msg_envelope(scope, type, data_json);
  if (s->peer && sana_peer_send_text(s->peer, env) == 0) SLOG(s, SANA_LOG_DEBUG, "-> %s", env);
  free(env);
}

static void send_state(sana_session *s) {
  char *st = sana_ctl_state_json(&s->ctl);
  send_msg(s, "application", "state", st);
  free(st);
}

static void send_error(sana_session *s, const char *command, const char *reason) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "command", command && command[0] ? command : "unknown");
  cJSON_AddStringToObject(o, "reason", reason);
  char *j = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  SLOG(s, SANA_LOG_INFO, "command_error %s", j);
  send_msg(s, "application", "command_error", j);
  free(j);
}

static void send_obj(sana_session *s, const char *type, cJSON *o) {
  char *j = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  send_msg(s, "application", type, j);
  free(j);
}

/* ---- events from other threads, re-found by session id on the main thread ---- */

typedef struct {
  sana_server *srv;
  char id[40];
  int kind; /* 0 chunk, 1 source done, 2 failed, 3 probe result */
  sana_chunk_info info;
  char text[SANA_PROMPT_MAX_BYTES + 256];
  sana_media_info media;
  int ok;
} session_event;

static gboolean on_event_main(gpointer data);

static void post_event(sana_session *s, session_event *e) {
  e->srv = s->srv;
  memcpy(e->id, s->id, sizeof e->id);
  g_main_context_invoke(NULL, on_event_main, e);
}

static void worker_chunk(void *user, const sana_chunk_info *info) {
  session_event *e = g_new0(session_event, 1);
  e->kind = 0;
  e->info = *info;
  snprintf(e->text, sizeof e->text, "%s", info->active_prompt ? info->active_prompt : "");
  e->info.active_prompt = NULL;
  post_event(user, e);
}

static void worker_source_done(void *user, int total) {
  session_event *e = g_new0(session_event, 1);
  e->kind = 1;
  e->info.chunk_index = total;
  post_event(user, e);
}

static void worker_failed(void *user, const char *reason) {
  session_event *e = g_new0(session_event, 1);
  e->kind = 2;
  snprintf(e->text, sizeof e->text, "%s", reason);
  post_event(user, e);
}

static void stop_feeder(sana_session *s) {
  if (!s->feeder) return;
  g_atomic_int_set(&s->feeder_stop, 1);
  sana_worker_reset(s->worker); /* wakes a feeder blocked in push */
  g_thread_join(s->feeder);
  s->feeder = NULL;
}

static gboolean on_event_main(gpointer data) {
  session_event *e = data;
  sana_session *s = sana_session_find(e->srv, e->id);
  if (!s) goto done;
  if (e->kind == 0 && s->ctl.started) {
    s->ctl.current_chunk = e->info.chunk_index + 1;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "chunk_index", e->info.chunk_index);
    cJSON_AddNumberToObject(o, "frames_emitted", e->info.frames_emitted);
    if (e->text[0]) cJSON_AddStringToObject(o, "active_prompt", e->text);
    else cJSON_AddNullToObject(o, "active_prompt");
    SLOG(s, SANA_LOG_INFO, "chunk %d done in %.2f s (%d frames, prompt '%s')", e->info.chunk_index, e->info.seconds,
         e->info.frames_emitted, e->text);
    send_obj(s, "chunk_complete", o);
    send_state(s);
  } else if (e->kind == 1 && s->ctl.started) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "total_chunks", e->info.chunk_index);
    send_obj(s, "generation_complete", o);
    s->ctl.running = 0; /* the run stays `started` until reset */
    send_state(s);
  } else if (e->kind == 2) {
    send_error(s, "start", e->text);
    s->ctl.running = 0;
    send_state(s);
  } else if (e->kind == 3) {
    s->probing = 0;
    if (s->probe) g_thread_join(s->probe);
    s->probe = NULL;
    if (!e->ok) {
      send_error(s, "set_video", e->text);
    } else { /* any length: the worker pads a short clip's one chunk with its last frame */
      char upload_id[SANA_ID_MAX];
      g_strlcpy(upload_id, e->text, sizeof upload_id);
      sana_ctl_video_accepted(&s->ctl, upload_id, e->media.num_frames);
      cJSON *o = cJSON_CreateObject();
      cJSON_AddNumberToObject(o, "width", e->media.width);
      cJSON_AddNumberToObject(o, "height", e->media.height);
      cJSON_AddNumberToObject(o, "num_frames", e->media.num_frames);
      cJSON_AddNumberToObject(o, "frame_count", e->media.num_frames);
      cJSON_AddNumberToObject(o, "fps", e->media.fps);
      cJSON_AddNumberToObject(o, "duration_seconds", e->media.fps > 0 ? e->media.num_frames / e->media.fps : 0);
      send_obj(s, "video_accepted", o);
      send_state(s);
    }
  }
done:
  g_free(e);
  return G_SOURCE_REMOVE;
}

/* ---- file mode ---- */

typedef struct {
  sana_session *s;
  char *path;
  char upload_id[SANA_ID_MAX];
} job;

static int feed_frame(void *user, const sana_frame *f) {
  sana_session *s = user;
  if (g_atomic_int_get(&s->feeder_stop)) return 0;
  sana_worker_push(s->worker, f, 1);
  return !g_atomic_int_get(&s->feeder_stop) && sana_worker_active(s->worker);
}

static gpointer feeder_main(gpointer data) {
  job *j = data;
  sana_media_info info;
  char err[256];
  if (sana_media_decode(j->path, j->s->srv->opt.width, j->s->srv->opt.height, feed_frame, j->s, &info, err,
                        sizeof err) == 0 && !g_atomic_int_get(&j->s->feeder_stop))
    sana_worker_end_of_source(j->s->worker);
  g_free(j->path);
  g_free(j);
  return NULL;
}

static gpointer probe_main(gpointer data) {
  job *j = data;
  session_event *e = g_new0(session_event, 1);
  e->kind = 3;
  char err[256] = "";
  e->ok = sana_media_decode(j->path, 64, 64, NULL, NULL, &e->media, err, sizeof err) == 0;
  snprintf(e->text, sizeof e->text, "%s", e->ok ? j->upload_id : err);
  post_event(j->s, e);
  g_free(j->path);
  g_free(j);
  return NULL;
}

/* ---- commands ---- */

static sana_upload *session_upload(sana_session *s, const char *id) {
  sana_upload *u = g_hash_table_lookup(s->srv->uploads, id);
  return u && !strcmp(u->session, s->id) ? u : NULL;
}

static void on_command(sana_session *s, const sana_cmd *cmd) {
  char reason[512];
  if (cmd->kind == SANA_CMD_PING || cmd->kind == SANA_CMD_FILE_UPLOADED || cmd->kind == SANA_CMD_RUNTIME_OTHER) return;
  if (cmd->kind == SANA_CMD_REQUEST_CAPABILITIES) {
    char *caps = sana_capabilities_json();
    send_msg(s, "runtime", "modelCapabilities", caps);
    free(caps);
    return;
  }
  unsigned act = 0;
  if (cmd->kind == SANA_CMD_SET_VIDEO && s->probing) {
    send_error(s, "set_video", "a previous set_video is still being checked");
    return;
  }
  if (sana_ctl_apply(&s->ctl, cmd, &act, reason, sizeof reason)) {
    send_error(s, cmd->name, reason);
    return;
  }
  if (act & SANA_ACT_VALIDATE_VIDEO) {
    sana_upload *u = session_upload(s, cmd->upload_id);
    if (!u || !u->received) {
      send_error(s, "set_video", u ? "the upload has not been received yet" : "no upload with this upload_id in this session");
      return;
    }
    job *j = g_new0(job, 1);
    j->s = s;
    j->path = g_strdup(u->path);
    snprintf(j->upload_id, sizeof j->upload_id, "%s", u->id);
    s->probing = 1;
    s->probe = g_thread_new("sana-probe", probe_main, j);
    return; /* video_accepted and state follow the check */
  }
  if (act & SANA_ACT_ENGINE_PROMPT) {
    if (s->worker) sana_worker_set_prompt(s->worker, s->ctl.prompt);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "prompt", s->ctl.prompt);
    send_obj(s, "prompt_accepted", o);
  }
  if (act & SANA_ACT_ENGINE_START) {
    /* the stream is made on the worker; an engine failure comes back as a command_error */
    sana_worker_start(s->worker, (uint64_t)s->ctl.seed, s->ctl.prompt);
    if (!s->ctl.live) {
      sana_upload *u = session_upload(s, s->ctl.video_id);
      if (u) {
        job *j = g_new0(job, 1);
        j->s = s;
        j->path = g_strdup(u->path);
        g_atomic_int_set(&s->feeder_stop, 0);
        s->feeder = g_thread_new("sana-feeder", feeder_main, j);
      }
    }
    cJSON *o = cJSON_CreateObject();
    if (s->ctl.has_prompt) cJSON_AddStringToObject(o, "prompt", s->ctl.prompt);
    else cJSON_AddNullToObject(o, "prompt");
    cJSON_AddNumberToObject(o, "chunk_index", 0);
    send_obj(s, "generation_started", o);
  }
  if (act & (SANA_ACT_ENGINE_PAUSE | SANA_ACT_ENGINE_RESUME)) {
    sana_worker_pause(s->worker, (act & SANA_ACT_ENGINE_PAUSE) != 0);
    send_msg(s, "application", (act & SANA_ACT_ENGINE_PAUSE) ? "generation_paused" : "generation_resumed", NULL);
  }
  if (act & SANA_ACT_ENGINE_RESET) {
    stop_feeder(s);
    sana_worker_reset(s->worker);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "reason", "reset");
    send_obj(s, "generation_reset", o);
  }
  SLOG(s, SANA_LOG_INFO, "%s accepted", cmd->name);
  send_state(s);
}

/* ---- peer events ---- */

static void peer_answer(void *user, const char *sdp, const char *error) {
  sana_session *s = user;
  g_free(s->answer_sdp);
  s->answer_sdp = g_strdup(sdp);
  s->answer_state = sdp ? 2 : 3;
  if (error) snprintf(s->answer_error, sizeof s->answer_error, "%s", error);
  SLOG(s, sdp ? SANA_LOG_INFO : SANA_LOG_WARN, "answer %s%s", sdp ? "ready" : "failed: ", sdp ? "" : error);
}

static void peer_message(void *user, const char *text) {
  sana_session *s = user;
  sana_session_touch(s);
  SLOG(s, SANA_LOG_DEBUG, "<- %s", text);
  sana_cmd *cmd = g_new0(sana_cmd, 1);
  char reason[256];
  if (sana_cmd_parse(text, strlen(text), cmd, reason, sizeof reason)) send_error(s, cmd->name, reason);
  else on_command(s, cmd);
  g_free(cmd);
}

static void peer_channel(void *user, int open) {
  sana_session *s = user;
  if (s->channel_open == open) return; /* on-open and the ready-state check may both report it */
  s->channel_open = open;
  SLOG(s, SANA_LOG_INFO, "data channel %s", open ? "open" : "closed");
  if (open) {
    sana_session_touch(s);
    send_state(s);
  }
}

/* Streaming thread: live camera frames go to the engine while a live run is active. */
static void peer_frame(void *user, const sana_frame *f) {
  sana_session *s = user;
  if (s->ctl.live && s->worker) sana_worker_push(s->worker, f, 0);
}

/* Sends edited frames at the source rate; repeats the last one (black at first) in between,
 * so the client always sees main_video at the served size. */
static gboolean pace(gpointer data) {
  sana_session *s = data;
  if (!s->peer) return G_SOURCE_CONTINUE;
  double now = g_get_monotonic_time() / 1e6;
  long due = (long)((now - s->pace_t0) * s->srv->opt.fps);
  if (due - s->pace_sent > s->srv->opt.fps) { /* after a stall, do not burst */
    s->pace_t0 = now;
    s->pace_sent = 0;
    due = 1;
  }
  while (s->pace_sent < due) {
    sana_frame *f = sana_worker_pop_output(s->worker);
    if (f && f->width == s->srv->opt.width && f->height == s->srv->opt.height) {
      sana_frame_free(s->last_out);
      s->last_out = f;
    } else {
      sana_frame_free(f);
    }
    sana_peer_send_frame(s->peer, s->last_out);
    s->pace_sent++;
  }
  return G_SOURCE_CONTINUE;
}

/* ---- lifecycle ---- */

static char *new_id(void) { return g_uuid_string_random(); }

sana_session *sana_session_new(sana_server *srv, const char **error) {
  if ((int)g_hash_table_size(srv->sessions) >= srv->opt.max_sessions) {
    *error = "session limit reached";
    return NULL;
  }
  sana_session *s = g_new0(sana_session, 1);
  s->srv = srv;
  char *id = new_id();
  snprintf(s->id, sizeof s->id, "%s", id);
  g_free(id);
  sana_ctl_init(&s->ctl);
  sana_worker_events ev = {s, s->id, worker_chunk, worker_source_done, worker_failed};
  s->worker = sana_worker_new(srv->model, &ev);
  s->last_out = sana_frame_alloc(srv->opt.width, srv->opt.height);
  if (!s->worker || !s->last_out) {
    *error = "out of memory";
    sana_worker_free(s->worker);
    sana_frame_free(s->last_out);
    g_free(s);
    return NULL;
  }
  memset(s->last_out->rgb, 0, (size_t)s->last_out->stride * s->last_out->height);
  sana_session_touch(s);
  g_hash_table_insert(srv->sessions, s->id, s);
  SLOG(s, SANA_LOG_INFO, "created (%u of %d)", g_hash_table_size(srv->sessions), srv->opt.max_sessions);
  return s;
}

static gboolean upload_of(gpointer key, gpointer value, gpointer user) {
  return !strcmp(((sana_upload *)value)->session, (const char *)user);
}

void sana_session_free(sana_session *s) {
  SLOG(s, SANA_LOG_INFO, "closed");
  if (s->pacer) g_source_remove(s->pacer);
  stop_feeder(s);
  if (s->probe) g_thread_join(s->probe);
  sana_peer_free(s->peer);
  sana_worker_free(s->worker);
  sana_frame_free(s->last_out);
  g_hash_table_foreach_remove(s->srv->uploads, upload_of, s->id);
  g_free(s->answer_sdp);
  g_free(s);
}

sana_session *sana_session_find(sana_server *srv, const char *id) {
  return id ? g_hash_table_lookup(srv->sessions, id) : NULL;
}

void sana_session_touch(sana_session *s) { s->last_seen = g_get_monotonic_time() / 1e6; }

char *sana_session_json(const sana_session *s) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "session_id", s->id);
  cJSON_AddStringToObject(o, "state", "ACTIVE");
  cJSON_AddStringToObject(o, "cluster", "local");
  cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "model"), "name", "sana-streaming");
  cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "server_info"), "server_version", "sana-serve 0.1");
  cJSON *tr = cJSON_AddObjectToObject(o, "selected_transport");
  cJSON_AddStringToObject(tr, "protocol", "webrtc");
  cJSON_AddStringToObject(tr, "version", "1.0");
  cJSON *caps = cJSON_AddObjectToObject(o, "capabilities");
  cJSON_AddStringToObject(caps, "protocol_version", "v0");
  cJSON *tracks = cJSON_AddArrayToObject(caps, "tracks");
  const char *t[2][2] = {{"main_video", "recvonly"}, {"camera", "sendonly"}};
  for (int i = 0; i < 2; i++) {
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "name", t[i][0]);
    cJSON_AddStringToObject(x, "kind", "video");
    cJSON_AddStringToObject(x, "direction", t[i][1]);
    cJSON_AddItemToArray(tracks, x);
  }
  cJSON_AddArrayToObject(caps, "commands");
  cJSON_AddNumberToObject(caps, "emission_fps", s->srv->opt.fps);
  char *j = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return j;
}

int sana_session_offer(sana_session *s, const char *sdp, const char *send_mid, const char *recv_mid, char *error,
                       size_t es) {
  sana_peer_config cfg = {s->srv->opt.width, s->srv->opt.height, s->srv->opt.fps, s->srv->opt.keyframe_interval,
                          s->srv->opt.codecs, strcmp(s->srv->opt.host, "0.0.0.0") ? s->srv->opt.host : NULL};
  sana_peer_events ev = {s, peer_answer, peer_message, peer_channel, peer_frame};
  /* A new offer (PUT, reconnect) replaces the old peer, once it proved answerable (a bad offer
   * leaves the connected peer alone); the generation state is kept. */
  sana_peer *p = sana_peer_new(sdp, send_mid, recv_mid, &cfg, &ev, error, es);
  if (!p) return -1;
  if (s->peer) {
    sana_peer *old = s->peer;
    s->peer = NULL;
    s->channel_open = 0;
    sana_peer_free(old);
  }
  s->answer_state = 1;
  s->peer = p;
  SLOG(s, SANA_LOG_INFO, "offer accepted, sending %s on mid %s", sana_peer_codec(p), send_mid);
  s->pace_t0 = g_get_monotonic_time() / 1e6;
  s->pace_sent = 0;
  if (!s->pacer) s->pacer = g_timeout_add(1000 / (2 * s->srv->opt.fps), pace, s);
  return 0;
}

void sana_upload_free(gpointer data) {
  sana_upload *u = data;
  if (u->path) remove(u->path);
  g_free(u->name);
  g_free(u->mime);
  g_free(u->path);
  g_free(u);
}

void sana_server_close_idle(sana_server *srv) {
  double now = g_get_monotonic_time() / 1e6;
  /* Runs every SANA_IDLE_CHECK_MS. A longer gap means this process stalled (swapped out, a
   * starved machine), not its clients: that time does not count towards their idleness. */
  double stall = srv->last_idle_check > 0 ? now - srv->last_idle_check - SANA_IDLE_CHECK_MS / 1e3 : 0;
  srv->last_idle_check = now;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, srv->sessions);
  while (g_hash_table_iter_next(&it, &k, &v)) {
    sana_session *s = v;
    if (stall > 1.0) s->last_seen += stall;
    if (now - s->last_seen > srv->opt.idle_timeout) {
      SLOG(s, SANA_LOG_INFO, "no message for %.0f s: closing and freeing its engine state", srv->opt.idle_timeout);
      g_hash_table_iter_remove(&it);
    }
  }
}
