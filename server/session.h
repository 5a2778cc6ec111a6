/* Server and session state shared by the HTTP routes (http.c) and the session logic
 * (session.c). Everything here lives on the GLib main thread unless marked otherwise. */
#ifndef SANA_SERVER_SESSION_H
#define SANA_SERVER_SESSION_H

#include <glib.h>
#include <libsoup/soup.h>

#include "server/peer.h"
#include "server/protocol.h"
#include "server/worker.h"

/* How often serve.c's timer calls sana_server_close_idle (which reads a longer gap as a stall). */
#define SANA_IDLE_CHECK_MS 500

typedef struct sana_server_opts {
  const char *host;
  int port;
  const char *weights;
  const char *backend;
  int width, height; /* model (and served) size */
  int fps;
  int keyframe_interval; /* frames between unrequested keyframes */
  int max_sessions;
  double idle_timeout; /* seconds without a client message before a session is closed */
  long max_upload;     /* bytes */
  const char *token;
  const char *codecs;
  const char *web_dir; /* static files served at / (NULL: none) */
} sana_server_opts;

typedef struct sana_server {
  sana_server_opts opt;
  SoupServer *soup;
  GMainLoop *loop;
  GHashTable *sessions; /* id -> sana_session* (owned) */
  GHashTable *uploads;  /* upload id -> sana_upload* (owned) */
  sana_model *model;
  char *upload_dir;
  guint idle_timer;
  double last_idle_check; /* monotonic seconds */
} sana_server;

typedef struct sana_upload {
  char id[SANA_ID_MAX];
  char session[40];
  char *name, *mime, *path;
  long declared, size;
  int received;
} sana_upload;

typedef struct sana_session {
  sana_server *srv;
  char id[40];
  char owner[64]; /* address the session was started from (for /stop_session without an id) */
  sana_ctl ctl;
  double last_seen;
  sana_peer *peer;
  int channel_open;
  int answer_state; /* 0 none, 1 pending, 2 ready, 3 failed */
  char *answer_sdp;
  char answer_error[256];
  sana_worker *worker;
  guint pacer;
  double pace_t0;
  long pace_sent;
  sana_frame *last_out;  /* repeated while no new edited frame is ready */
  GThread *feeder;       /* file mode: decodes the clip into the worker */
  volatile gint feeder_stop;
  GThread *probe;        /* set_video: decode-checks an upload */
  int probing;
} sana_session;

sana_session *sana_session_new(sana_server *srv, const char **error);
void sana_session_free(sana_session *s);
sana_session *sana_session_find(sana_server *srv, const char *id);
/* The session object of reactor-protocol.md §3.2/§3.3. Caller frees. */
char *sana_session_json(const sana_session *s);
/* Starts negotiating a new peer from an offer (replacing any previous one). */
int sana_session_offer(sana_session *s, const char *sdp, const char *send_mid, const char *recv_mid, char *error,
                       size_t es);
void sana_session_touch(sana_session *s);
void sana_server_close_idle(sana_server *srv);
void sana_upload_free(gpointer u);

/* http.c */
int sana_http_start(sana_server *srv, char *error, size_t es);

#endif
