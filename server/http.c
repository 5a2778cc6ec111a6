/* The Reactor HTTP endpoints on libsoup-3.0 (reactor-protocol.md §3, §8). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "server/session.h"

#define TRANSPORT "/transport/webrtc/"

static void reply(SoupServerMessage *msg, int status, const char *json) {
  soup_server_message_set_status(msg, status, NULL);
  if (json) soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_COPY, json, strlen(json));
}

static void reply_error(SoupServerMessage *msg, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void reply_error(SoupServerMessage *msg, int status, const char *fmt, ...) {
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "error", text);
  char *j = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  reply(msg, status, j);
  free(j);
  SANA_LOGI("http %s %s -> %d %s", soup_server_message_get_method(msg),
            g_uri_get_path(soup_server_message_get_uri(msg)), status, text);
}

static void reply_take(SoupServerMessage *msg, int status, char *json) {
  reply(msg, status, json);
  free(json);
}

/* The request body as JSON; an empty body is {}. NULL (and a 400 sent) when it does not parse. */
static cJSON *body_json(SoupServerMessage *msg) {
  SoupMessageBody *b = soup_server_message_get_request_body(msg);
  GBytes *bytes = soup_message_body_flatten(b);
  gsize n = 0;
  const char *data = g_bytes_get_data(bytes, &n);
  cJSON *j = n ? cJSON_ParseWithLength(data, n) : cJSON_CreateObject();
  g_bytes_unref(bytes);
  if (!j || !cJSON_IsObject(j)) {
    cJSON_Delete(j);
    reply_error(msg, 400, "request body is not a JSON object");
    return NULL;
  }
  return j;
}

/* Reactor-API-Version / Reactor-WebRTC-Version: we speak 1 and 1.0; 426 and 501 are what the SDK
 * maps to CLIENT_VERSION_TOO_OLD and SERVER_VERSION_TOO_OLD. */
static int check_versions(SoupServerMessage *msg) {
  SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
  const char *names[2] = {"Reactor-API-Version", "Reactor-WebRTC-Version"};
  for (int i = 0; i < 2; i++) {
    const char *v = soup_message_headers_get_one(h, names[i]);
    if (!v) continue;
    char *end = NULL;
    long major = strtol(v, &end, 10);
    if (end == v) {
      reply_error(msg, 400, "header %s: '%s' is not a version number", names[i], v);
      return -1;
    }
    if (major > 1) {
      reply_error(msg, 501, "header %s: this server speaks version 1, the client asks for %s", names[i], v);
      return -1;
    }
    if (major < 1) {
      reply_error(msg, 426, "header %s: version %s is too old, this server needs 1", names[i], v);
      return -1;
    }
  }
  return 0;
}

static int check_token(sana_server *srv, SoupServerMessage *msg) {
  if (!srv->opt.token || !srv->opt.token[0]) return 0;
  const char *auth = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
  if (auth && g_str_has_prefix(auth, "Bearer ") && !strcmp(auth + 7, srv->opt.token)) return 0;
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "WWW-Authenticate", "Bearer");
  reply_error(msg, 401, auth ? "bearer token rejected" : "missing Authorization: Bearer <token>");
  return -1;
}

static void add_common_headers(SoupServerMessage *msg) {
  SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
  const char *origin = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Origin");
  soup_message_headers_replace(h, "Access-Control-Allow-Origin", origin ? origin : "*");
  soup_message_headers_replace(h, "Vary", "Origin");
  soup_message_headers_replace(h, "Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
  soup_message_headers_replace(h, "Access-Control-Allow-Headers",
                               "Authorization, Content-Type, Reactor-API-Version, Reactor-API-Accept-Version, "
                               "Reactor-WebRTC-Version");
  soup_message_headers_replace(h, "Access-Control-Max-Age", "600");
  soup_message_headers_replace(h, "Reactor-API-Version", "1");
  soup_message_headers_replace(h, "Reactor-WebRTC-Version", "1.0");
}

static void route_sdp(sana_server *srv, sana_session *s, SoupServerMessage *msg, const char *method) {
  if (!strcmp(method, "GET")) {
    if (s->answer_state == 2) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "sdp_answer", s->answer_sdp);
      reply_take(msg, 200, cJSON_PrintUnformatted(o));
      cJSON_Delete(o);
    } else if (s->answer_state == 1) {
      reply(msg, 202, "{}");
    } else if (s->answer_state == 3) {
      reply_error(msg, 500, "negotiation failed: %s", s->answer_error);
    } else {
      reply_error(msg, 404, "no offer was posted for this session");
    }
    return;
  }
  if (strcmp(method, "POST") && strcmp(method, "PUT")) {
    reply_error(msg, 405, "sdp_params takes GET, POST or PUT");
    return;
  }
  GBytes *bytes = soup_message_body_flatten(soup_server_message_get_request_body(msg));
  gsize n = 0;
  const char *body = g_bytes_get_data(bytes, &n);
  sana_offer_req req;
  char err[512];
  if (sana_offer_req_parse(body, n, &req, err, sizeof err)) reply_error(msg, 400, "%s", err);
  else if (sana_session_offer(s, req.sdp, req.send_mid, req.recv_mid[0] ? req.recv_mid : NULL, err, sizeof err))
    reply_error(msg, 400, "%s", err);
  else reply(msg, 202, "{}"); /* exactly 202: the SDK treats 200 as an error */
  sana_offer_req_clear(&req);
  g_bytes_unref(bytes);
}

static void route_upload_create(sana_server *srv, sana_session *s, SoupServerMessage *msg, const char *base) {
  GBytes *bytes = soup_message_body_flatten(soup_server_message_get_request_body(msg));
  gsize n = 0;
  const char *body = g_bytes_get_data(bytes, &n);
  sana_upload_req req;
  char err[512];
  int status = sana_upload_req_parse(body, n, srv->opt.max_upload, &req, err, sizeof err);
  g_bytes_unref(bytes);
  if (status) {
    reply_error(msg, status, "%s", err);
    return;
  }
  sana_upload *u = g_new0(sana_upload, 1);
  char *id = g_uuid_string_random();
  snprintf(u->id, sizeof u->id, "%s", id);
  g_free(id);
  snprintf(u->session, sizeof u->session, "%s", s->id);
  u->name = g_strdup(req.name);
  u->mime = g_strdup(req.mime);
  u->declared = (long)req.size;
  u->path = g_strdup_printf("%s/%s", srv->upload_dir, u->id);
  g_hash_table_insert(srv->uploads, u->id, u);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "presigned_id", u->id);
  char *url = g_strdup_printf("%s/uploads/%s", base, u->id);
  cJSON_AddStringToObject(o, "presigned_url", url);
  g_free(url);
  char *path = g_strdup_printf("sessions/%s/uploads/%s/upload", s->id, u->id);
  cJSON_AddStringToObject(o, "path", path);
  g_free(path);
  reply_take(msg, 201, cJSON_PrintUnformatted(o));
  cJSON_Delete(o);
}

/* The PUT target of a presigned URL: the bytes go to a temporary file, renamed into place. */
static void route_upload_put(sana_server *srv, SoupServerMessage *msg, const char *id) {
  sana_upload *u = g_hash_table_lookup(srv->uploads, id);
  if (!u) {
    reply_error(msg, 404, "no such upload '%s'", id);
    return;
  }
  if (u->received) {
    reply_error(msg, 409, "upload '%s' was already received", id);
    return;
  }
  SoupMessageBody *b = soup_server_message_get_request_body(msg);
  if (b->length > srv->opt.max_upload) {
    reply_error(msg, 413, "upload of %ld bytes exceeds the limit of %ld bytes", (long)b->length, srv->opt.max_upload);
    return;
  }
  GBytes *bytes = soup_message_body_flatten(b);
  gsize n = 0;
  const char *data = g_bytes_get_data(bytes, &n);
  char *tmp = g_strdup_printf("%s.part", u->path);
  FILE *f = fopen(tmp, "wb");
  int ok = f && fwrite(data, 1, n, f) == n;
  if (f && fclose(f)) ok = 0;
  g_bytes_unref(bytes);
  if (!ok || rename(tmp, u->path)) {
    remove(tmp);
    g_free(tmp);
    reply_error(msg, 500, "cannot store the upload: %s", strerror(errno));
    return;
  }
  g_free(tmp);
  u->received = 1;
  u->size = (long)n;
  SANA_LOGI("upload %s: %ld bytes (%s)", u->id, u->size, u->name);
  reply(msg, 200, "{}");
}

static void route_health(sana_server *srv, SoupServerMessage *msg) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "status", "ok");
  cJSON_AddNumberToObject(o, "sessions", g_hash_table_size(srv->sessions));
  cJSON_AddNumberToObject(o, "max_sessions", srv->opt.max_sessions);
  cJSON_AddNumberToObject(o, "width", srv->opt.width);
  cJSON_AddNumberToObject(o, "height", srv->opt.height);
  cJSON_AddNumberToObject(o, "fps", srv->opt.fps);
  reply_take(msg, 200, cJSON_PrintUnformatted(o));
  cJSON_Delete(o);
}

static void create_session(sana_server *srv, SoupServerMessage *msg) {
  cJSON *j = body_json(msg); /* validated but unused: extra_args / model are informational */
  if (!j) return;
  cJSON_Delete(j);
  const char *why = NULL;
  sana_session *s = sana_session_new(srv, &why);
  if (!s) {
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Retry-After", "5");
    reply_error(msg, 429, "%s: %d of %d sessions in use", why, (int)g_hash_table_size(srv->sessions),
                srv->opt.max_sessions);
    return;
  }
  const char *from = soup_server_message_get_remote_host(msg);
  g_strlcpy(s->owner, from ? from : "", sizeof s->owner);
  reply_take(msg, 200, sana_session_json(s));
}

static void stop_session(sana_server *srv, SoupServerMessage *msg, const char *id) {
  sana_session *s = sana_session_find(srv, id);
  if (!s) {
    reply_error(msg, 404, "no session '%s'", id ? id : "");
    return;
  }
  g_hash_table_remove(srv->sessions, s->id);
  reply(msg, 200, "{}");
}

/* The SDK's stop_session names no session (and local mode sends no token): stop the one that
 * was started from the caller's address. Several from that address (one browser with two
 * tabs, clients behind one proxy) cannot be told apart: 409, the id must be given. */
static void stop_own_session(sana_server *srv, SoupServerMessage *msg) {
  const char *from = soup_server_message_get_remote_host(msg);
  if (!from) from = "";
  GHashTableIter it;
  gpointer k, v;
  const char *mine = NULL;
  int n = 0;
  g_hash_table_iter_init(&it, srv->sessions);
  while (g_hash_table_iter_next(&it, &k, &v))
    if (!strcmp(((sana_session *)v)->owner, from)) {
      mine = k;
      n++;
    }
  if (n == 1) stop_session(srv, msg, mine);
  else if (n == 0) reply_error(msg, 404, "no session was started from %s", from);
  else
    reply_error(msg, 409, "%d sessions were started from %s: give {\"session_id\"} to say which to stop", n, from);
}

/* The web app's static files (no directory traversal: no "..", no hidden files). They are
 * public, like /health: the page must load before it can present a token (?token=T). Returns
 * 1 when it replied. */
static int route_static(sana_server *srv, SoupServerMessage *msg, const char *path) {
  if (!srv->opt.web_dir) {
    if (strcmp(path, "/")) return 0;
    reply_error(msg, 404, "the web app is not built: run `cmake --build build --target web` (needs npm) or pass --web DIR");
    return 1;
  }
  const char *rel = !strcmp(path, "/") ? "index.html" : path + 1;
  if (strstr(rel, "..") || rel[0] == '.') return 0;
  char *file = g_build_filename(srv->opt.web_dir, rel, NULL);
  gchar *contents = NULL;
  gsize len = 0;
  int found = g_file_test(file, G_FILE_TEST_IS_REGULAR) && g_file_get_contents(file, &contents, &len, NULL);
  g_free(file);
  if (!found) return 0;
  const char *type = g_str_has_suffix(rel, ".html") ? "text/html"
                     : g_str_has_suffix(rel, ".js") ? "text/javascript"
                     : g_str_has_suffix(rel, ".css") ? "text/css"
                                                     : "application/octet-stream";
  soup_server_message_set_status(msg, 200, NULL);
  soup_server_message_set_response(msg, type, SOUP_MEMORY_TAKE, contents, len);
  return 1;
}

static void handler(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data) {
  sana_server *srv = data;
  const char *method = soup_server_message_get_method(msg);
  add_common_headers(msg);
  if (!strcmp(method, "OPTIONS")) {
    reply(msg, 204, NULL);
    return;
  }
  SANA_LOGD("http %s %s", method, path);
  if (!strcmp(path, "/health")) {
    route_health(srv, msg);
    return;
  }
  /* Presigned upload URLs carry their own unguessable id instead of the bearer token. */
  if (g_str_has_prefix(path, "/uploads/")) {
    if (strcmp(method, "PUT")) reply_error(msg, 405, "upload URLs take PUT");
    else route_upload_put(srv, msg, path + strlen("/uploads/"));
    return;
  }
  if (!strcmp(method, "GET") && route_static(srv, msg, path)) return;
  if (check_versions(msg) || check_token(srv, msg)) return;

  if (!strcmp(path, "/start_session") || !strcmp(path, "/sessions")) {
    if (strcmp(method, "POST")) reply_error(msg, 405, "%s takes POST", path);
    else create_session(srv, msg);
    return;
  }
  if (!strcmp(path, "/stop_session")) {
    if (strcmp(method, "POST")) {
      reply_error(msg, 405, "/stop_session takes POST");
      return;
    }
    /* The SDK sends no id: with one session that is the one; an id may be given in the body. */
    cJSON *j = body_json(msg);
    if (!j) return;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "session_id");
    if (cJSON_IsString(id)) stop_session(srv, msg, id->valuestring);
    else stop_own_session(srv, msg);
    cJSON_Delete(j);
    return;
  }
  if (g_str_has_prefix(path, "/sessions/")) {
    const char *rest = path + strlen("/sessions/");
    const char *slash = strchr(rest, '/');
    char id[64];
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (n == 0 || n >= sizeof id) {
      reply_error(msg, 404, "no such session");
      return;
    }
    memcpy(id, rest, n);
    id[n] = 0;
    sana_session *s = sana_session_find(srv, id);
    if (!slash) {
      if (!strcmp(method, "DELETE")) stop_session(srv, msg, id);
      else if (strcmp(method, "GET")) reply_error(msg, 405, "/sessions/{id} takes GET or DELETE");
      else if (!s) reply_error(msg, 404, "no session '%s'", id);
      else reply_take(msg, 200, sana_session_json(s));
      return;
    }
    if (!s) {
      reply_error(msg, 404, "no session '%s'", id);
      return;
    }
    sana_session_touch(s);
    if (!strcmp(slash, TRANSPORT "ice_servers")) {
      if (strcmp(method, "GET")) reply_error(msg, 405, "ice_servers takes GET");
      else reply(msg, 200, "{\"ice_servers\":[]}"); /* host candidates suffice on loopback and LANs */
      return;
    }
    if (!strcmp(slash, TRANSPORT "sdp_params")) {
      route_sdp(srv, s, msg, method);
      return;
    }
    if (!strcmp(slash, "/uploads")) {
      if (strcmp(method, "POST")) {
        reply_error(msg, 405, "uploads takes POST");
        return;
      }
      GUri *uri = soup_server_message_get_uri(msg);
      char *base = g_strdup_printf("%s://%s:%d", g_uri_get_scheme(uri), g_uri_get_host(uri), g_uri_get_port(uri));
      route_upload_create(srv, s, msg, base);
      g_free(base);
      return;
    }
  }
  reply_error(msg, 404, "no endpoint %s %s", method, path);
}

int sana_http_start(sana_server *srv, char *error, size_t es) {
  srv->soup = soup_server_new("server-header", "sana-serve", NULL);
  soup_server_add_handler(srv->soup, NULL, handler, srv, NULL);
  GError *e = NULL;
  GInetAddress *addr = g_inet_address_new_from_string(srv->opt.host);
  if (!addr) {
    snprintf(error, es, "--host '%s' is not an IP address", srv->opt.host);
    return -1;
  }
  GSocketAddress *sa = g_inet_socket_address_new(addr, (guint16)srv->opt.port);
  g_object_unref(addr);
  gboolean ok = soup_server_listen(srv->soup, sa, 0, &e);
  g_object_unref(sa);
  if (!ok) {
    snprintf(error, es, "cannot listen on %s:%d: %s", srv->opt.host, srv->opt.port, e->message);
    g_error_free(e);
    return -1;
  }
  if (srv->opt.port == 0) { /* report the port the system chose */
    GSList *uris = soup_server_get_uris(srv->soup);
    if (uris) srv->opt.port = g_uri_get_port(uris->data);
    g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
  }
  return 0;
}
