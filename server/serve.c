/* `sana serve`: options, model loading and the main loop (see serve.h). */
#include "server/serve.h"

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "server/session.h"
#include "server/web.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: sana serve --weights DIR [options]\n"
          "  --host ADDR          listen address (default 127.0.0.1; 0.0.0.0 for all)\n"
          "  --port N             TCP port (default 8080; 0 picks a free one)\n"
          "  --weights DIR        weights directory (see `sana info`)\n"
          "  --backend NAME       cpu or cuda (default: cuda when available)\n"
          "  --size WxH           model and served size, multiples of 32 (default 1280x704)\n"
          "  --fps N              source / output frame rate (default 24)\n"
          "  --keyframe-interval N  frames between keyframes unless the client asks (PLI/FIR) (default 48)\n"
          "  --max-sessions N     concurrent sessions (default 1)\n"
          "  --idle-timeout S     close a session after S seconds without a message (default 20)\n"
          "  --max-upload-mb N    largest accepted upload (default 64)\n"
          "  --codecs LIST        codec preference for main_video (default vp8,h264)\n"
          "  --token T            require Authorization: Bearer T (or env SANA_SERVE_TOKEN)\n"
          "  --web DIR            serve the web app (static files) from DIR at / (default: the\n"
          "                       app built next to this binary, see docs/web.md)\n"
          "  --log-level L        error, warn, info or debug (default info)\n");
}

static int parse_size(const char *s, int *w, int *h) {
  return sscanf(s, "%dx%d", w, h) == 2 && *w >= 32 && *h >= 32 && *w % 32 == 0 && *h % 32 == 0 && *w <= 4096 &&
                 *h <= 4096
             ? 0
             : -1;
}

static gboolean on_signal(gpointer data) {
  g_main_loop_quit(((sana_server *)data)->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean on_idle_check(gpointer data) {
  sana_server_close_idle(data);
  return G_SOURCE_CONTINUE;
}

int sana_serve_cli(int argc, char **argv) {
  sana_server srv = {0};
  sana_server_opts *o = &srv.opt;
  *o = (sana_server_opts){.host = "127.0.0.1", .port = 8080, .width = 1280, .height = 704, .fps = 24, .keyframe_interval = 48,
                          .max_sessions = 1, .idle_timeout = 20, .max_upload = 64L << 20, .codecs = "vp8,h264",
                          .token = getenv("SANA_SERVE_TOKEN")};
  sana_log_level lvl = SANA_LOG_INFO;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    }
    if (!v) {
      fprintf(stderr, "sana serve: %s needs a value (or is unknown)\n", a);
      return 2;
    }
    i++;
    int bad = 0;
    if (!strcmp(a, "--host")) o->host = v;
    else if (!strcmp(a, "--port")) bad = (o->port = atoi(v)) < 0 || o->port > 65535;
    else if (!strcmp(a, "--weights")) o->weights = v;
    else if (!strcmp(a, "--backend")) o->backend = v;
    else if (!strcmp(a, "--size")) bad = parse_size(v, &o->width, &o->height);
    else if (!strcmp(a, "--fps")) bad = (o->fps = atoi(v)) < 1 || o->fps > 60;
    else if (!strcmp(a, "--keyframe-interval")) bad = (o->keyframe_interval = atoi(v)) < 1 || o->keyframe_interval > 1000000;
    else if (!strcmp(a, "--max-sessions")) bad = (o->max_sessions = atoi(v)) < 1;
    else if (!strcmp(a, "--idle-timeout")) bad = (o->idle_timeout = atof(v)) <= 0;
    else if (!strcmp(a, "--max-upload-mb")) bad = (o->max_upload = (long)(atof(v) * (1 << 20))) <= 0;
    else if (!strcmp(a, "--codecs")) o->codecs = v;
    else if (!strcmp(a, "--token")) o->token = v;
    else if (!strcmp(a, "--web")) o->web_dir = v;
    else if (!strcmp(a, "--log-level")) bad = sana_log_parse_level(v, &lvl) != 0;
    else {
      fprintf(stderr, "sana serve: unknown option %s\n", a);
      usage(stderr);
      return 2;
    }
    if (bad) {
      fprintf(stderr, "sana serve: bad value '%s' for %s\n", v, a);
      return 2;
    }
  }
  sana_log_set_level(lvl);
  if (!o->weights) {
    fprintf(stderr, "sana serve: --weights DIR is required\n");
    return 2;
  }
  gst_init(NULL, NULL);
  static const char *needed[] = {"webrtcbin", "nicesrc", "dtlssrtpenc", "vp8enc", "rtpvp8pay", "decodebin", "appsrc",
                                 "appsink", "videoconvert", "videoscale"};
  for (size_t i = 0; i < sizeof needed / sizeof *needed; i++) {
    GstElementFactory *f = gst_element_factory_find(needed[i]);
    if (!f) {
      fprintf(stderr, "sana serve: GStreamer element '%s' is missing (see tools/deps/server.apt)\n", needed[i]);
      return 1;
    }
    gst_object_unref(f);
  }
  sana_model_options mo = {.backend = o->backend, .width = o->width, .height = o->height};
  sana_error err = {0};
  srv.model = sana_model_load(o->weights, &mo, &err);
  if (!srv.model) {
    fprintf(stderr, "sana serve: %s\n", err.msg);
    return 1;
  }
  sana_model_size(srv.model, &o->width, &o->height);
  char web_looked[1024] = "", *web_default = NULL;
  if (!o->web_dir) o->web_dir = web_default = sana_web_default_dir(web_looked, sizeof web_looked);
  srv.upload_dir = g_dir_make_tmp("sana-serve-XXXXXX", NULL);
  srv.sessions = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)sana_session_free);
  srv.uploads = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, sana_upload_free);
  srv.loop = g_main_loop_new(NULL, FALSE);
  char msg[512];
  int rc = 0;
  if (!srv.upload_dir) {
    fprintf(stderr, "sana serve: cannot create an upload directory\n");
    rc = 1;
  } else if (sana_http_start(&srv, msg, sizeof msg)) {
    fprintf(stderr, "sana serve: %s\n", msg);
    rc = 1;
  } else {
    g_unix_signal_add(SIGINT, on_signal, &srv);
    g_unix_signal_add(SIGTERM, on_signal, &srv);
    srv.idle_timer = g_timeout_add(SANA_IDLE_CHECK_MS, on_idle_check, &srv);
    /* The "listening" line is what scripts wait for. */
    printf("sana serve: listening on http://%s:%d (%dx%d @ %d fps, %d session(s))\n", o->host, o->port, o->width,
           o->height, o->fps, o->max_sessions);
    if (o->web_dir) printf("sana serve: web app from %s at http://%s:%d/\n", o->web_dir, o->host, o->port);
    else
      printf("sana serve: no web app (looked in %s); build it with `cmake --build build --target web` "
             "or pass --web DIR; the API works without it\n",
             web_looked);
    fflush(stdout);
    g_main_loop_run(srv.loop);
    SANA_LOGI("shutting down");
  }
  if (srv.idle_timer) g_source_remove(srv.idle_timer);
  g_hash_table_destroy(srv.sessions);
  sana_worker_join_all(); /* freed sessions' workers finish their chunk before the model goes */
  g_hash_table_destroy(srv.uploads);
  if (srv.soup) g_object_unref(srv.soup);
  if (srv.upload_dir) g_rmdir(srv.upload_dir);
  g_free(srv.upload_dir);
  g_main_loop_unref(srv.loop);
  sana_model_free(srv.model);
  g_free(web_default);
  return rc;
}
