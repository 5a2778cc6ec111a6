/* Hub downloads with libcurl; see fetch.h. */
#include "io/fetch.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

#define USER_AGENT "sana-fetch/1 (libcurl)"
#define LIST_MAX_BYTES (32 << 20)

/* ---------------------------------------------------------------------------------------- */
/* Hashes                                                                                   */

static void to_hex(const unsigned char *d, unsigned n, char *out) {
  for (unsigned i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", d[i]);
  out[2 * n] = 0;
}

void sana_sha256_hex(const void *data, size_t n, char out[65]) {
  unsigned char d[32];
  unsigned dn = 0;
  EVP_Digest(data, n, d, &dn, EVP_sha256(), NULL);
  to_hex(d, 32, out);
}

/* Hashes a file with `md`, after an optional prefix (git's blob header). */
static sana_status digest_file(const char *path, const EVP_MD *md, const char *prefix, size_t prefix_len, char *out,
                               sana_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return sana_err(err, SANA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  unsigned char *buf = malloc(1 << 20);
  if (!c || !buf) {
    fclose(f);
    EVP_MD_CTX_free(c);
    free(buf);
    return sana_err(err, SANA_ERR_NOMEM, "%s: hashing", path);
  }
  EVP_DigestInit_ex(c, md, NULL);
  if (prefix_len) EVP_DigestUpdate(c, prefix, prefix_len);
  size_t k;
  while ((k = fread(buf, 1, 1 << 20, f)) > 0) EVP_DigestUpdate(c, buf, k);
  int bad = ferror(f);
  fclose(f);
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned dn = 0;
  EVP_DigestFinal_ex(c, d, &dn);
  EVP_MD_CTX_free(c);
  free(buf);
  if (bad) return sana_err(err, SANA_ERR_IO, "%s: read error while hashing", path);
  to_hex(d, dn, out);
  return SANA_OK;
}

sana_status sana_sha256_file(const char *path, char out[65], sana_error *err) {
  return digest_file(path, EVP_sha256(), NULL, 0, out, err);
}

sana_status sana_git_blob_sha1_file(const char *path, char out[41], sana_error *err) {
  struct stat sb;
  if (stat(path, &sb) != 0) return sana_err(err, SANA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  char head[32];
  int hn = snprintf(head, sizeof head, "blob %lld", (long long)sb.st_size);
  return digest_file(path, EVP_sha1(), head, (size_t)hn + 1, out, err); /* the NUL is part of it */
}

/* ---------------------------------------------------------------------------------------- */
/* HTTP                                                                                     */

static void curl_init_once(void) {
  static int done;
  if (!done) curl_global_init(CURL_GLOBAL_DEFAULT), done = 1;
}

/* An easy handle with the common settings; *hdrs must be freed with curl_slist_free_all. */
static CURL *make_handle(const sana_hub *hub, const char *url, struct curl_slist **hdrs) {
  curl_init_once();
  CURL *c = curl_easy_init();
  if (!c) return NULL;
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  /* A stalled transfer (under 1 byte/s for a minute) counts as dropped and is resumed. */
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  *hdrs = NULL;
  if (hub->token && *hub->token) {
    char auth[1024];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", hub->token);
    *hdrs = curl_slist_append(*hdrs, auth);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
  }
  return c;
}

/* "a/b c" -> "a/b%20c": each segment escaped, slashes kept. */
static int append_path(char *url, size_t n, const char *path) {
  size_t k = strlen(url);
  for (const char *p = path; *p;) {
    const char *e = strchr(p, '/');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    char *esc = curl_easy_escape(NULL, p, (int)len);
    if (!esc) return 0;
    int w = snprintf(url + k, n - k, "%s%s", esc, e ? "/" : "");
    curl_free(esc);
    if (w < 0 || (size_t)w >= n - k) return 0;
    k += (size_t)w;
    p += len + (e ? 1 : 0);
  }
  return 1;
}

static const char *rev_of(const sana_hub *hub) { return hub->revision && *hub->revision ? hub->revision : "main"; }

/* Explains an HTTP status for `what` (a repo, a file). */
static sana_status http_error(sana_error *err, long code, const char *what, const sana_hub *hub) {
  if (code == 401 || code == 403)
    return sana_err(err, SANA_ERR_IO,
                    "%s: access denied (HTTP %ld). The repository may be gated: accept its terms on the hub, then "
                    "pass --token or set HF_TOKEN%s",
                    what, code, hub->token && *hub->token ? " (a token was sent: check it has read access)" : "");
  if (code == 404)
    return sana_err(err, SANA_ERR_MISSING, "%s: not found on %s at revision %s (HTTP 404)", what, hub->endpoint,
                    rev_of(hub));
  return sana_err(err, SANA_ERR_IO, "%s: the hub answered HTTP %ld", what, code);
}

typedef struct {
  char *data;
  size_t len, cap;
} membuf;

static size_t mem_write(char *p, size_t sz, size_t nm, void *ud) {
  membuf *b = ud;
  size_t n = sz * nm;
  if (b->len + n + 1 > LIST_MAX_BYTES) return 0;
  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->len + n + 1) * 2;
    char *d = realloc(b->data, cap);
    if (!d) return 0;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = 0;
  return n;
}

static int is_hex(const char *s, size_t n) {
  if (strlen(s) != n) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}

/* A JSON byte count: a whole number in [0, 2^53] (what a double holds exactly). */
static int json_size(const cJSON *v, int64_t *out) {
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 9007199254740992.0)) return 0;
  *out = (int64_t)v->valuedouble;
  return (double)*out == v->valuedouble;
}

sana_status sana_hub_parse_tree(const char *body, size_t len, const char *what, sana_hub_file **files, int *n,
                                sana_error *err) {
  *files = NULL;
  *n = 0;
  cJSON *root = cJSON_ParseWithLength(body, len);
  if (!cJSON_IsArray(root)) {
    cJSON_Delete(root);
    return sana_err(err, SANA_ERR_FORMAT, "%s: the hub's file list is not a JSON array", what);
  }
  int cap = cJSON_GetArraySize(root);
  sana_hub_file *out = calloc(cap > 0 ? (size_t)cap : 1, sizeof *out);
  if (!out) {
    cJSON_Delete(root);
    return sana_err(err, SANA_ERR_NOMEM, "%s: file list", what);
  }
  int k = 0;
  sana_status st = SANA_OK;
  const cJSON *it;
  cJSON_ArrayForEach(it, root) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");
    if (cJSON_IsString(type) && strcmp(type->valuestring, "file")) continue; /* folders */
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(it, "path");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(it, "size");
    const cJSON *oid = cJSON_GetObjectItemCaseSensitive(it, "oid");
    const cJSON *lfs = cJSON_GetObjectItemCaseSensitive(it, "lfs");
    sana_hub_file *f = &out[k];
    if (!cJSON_IsString(path) || !json_size(size, &f->size) || strlen(path->valuestring) >= sizeof f->path) {
      st = sana_err(err, SANA_ERR_FORMAT, "%s: a file entry lacks a valid \"path\" or \"size\"", what);
      break;
    }
    snprintf(f->path, sizeof f->path, "%s", path->valuestring);
    if (cJSON_IsString(oid) && is_hex(oid->valuestring, 40)) snprintf(f->git_oid, sizeof f->git_oid, "%s", oid->valuestring);
    if (lfs) {
      const cJSON *lo = cJSON_GetObjectItemCaseSensitive(lfs, "oid"), *ls = cJSON_GetObjectItemCaseSensitive(lfs, "size");
      if (!cJSON_IsString(lo) || !is_hex(lo->valuestring, 64)) {
        st = sana_err(err, SANA_ERR_FORMAT, "%s: %s: \"lfs.oid\" is not a SHA-256", what, f->path);
        break;
      }
      snprintf(f->sha256, sizeof f->sha256, "%s", lo->valuestring);
      if (ls && !json_size(ls, &f->size)) {
        st = sana_err(err, SANA_ERR_FORMAT, "%s: %s: \"lfs.size\" is not a byte count", what, f->path);
        break;
      }
    } else if (!f->git_oid[0]) {
      st = sana_err(err, SANA_ERR_FORMAT, "%s: %s: neither an LFS SHA-256 nor a git object id to check", what,
                    f->path);
      break;
    }
    k++;
  }
  cJSON_Delete(root);
  if (st) {
    free(out);
    return st;
  }
  *files = out;
  *n = k;
  return SANA_OK;
}

sana_status sana_hub_list(const sana_hub *hub, const char *repo, const char *dir, sana_hub_file **files, int *n,
                          sana_error *err) {
  *files = NULL;
  *n = 0;
  char url[2048], what[600];
  snprintf(what, sizeof what, "%s%s%s", repo, *dir ? "/" : "", dir);
  snprintf(url, sizeof url, "%s/api/models/%s/tree/", hub->endpoint, repo);
  if (!append_path(url, sizeof url, rev_of(hub)) || (*dir && (strcat(url, "/"), !append_path(url, sizeof url, dir))))
    return sana_err(err, SANA_ERR_ARG, "%s: URL too long", what);
  struct curl_slist *hdrs;
  CURL *c = make_handle(hub, url, &hdrs);
  if (!c) return sana_err(err, SANA_ERR_NOMEM, "%s: curl", what);
  membuf b = {0};
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, mem_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
  CURLcode rc = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(c);
  curl_slist_free_all(hdrs);
  sana_status st;
  if (rc != CURLE_OK)
    st = sana_err(err, SANA_ERR_IO, "%s: cannot list files at %s: %s", what, hub->endpoint, curl_easy_strerror(rc));
  else if (code != 200)
    st = http_error(err, code, what, hub);
  else
    st = sana_hub_parse_tree(b.data ? b.data : "", b.len, what, files, n, err);
  free(b.data);
  return st;
}

/* ---------------------------------------------------------------------------------------- */
/* Download                                                                                 */

typedef struct {
  FILE *f;
  int64_t offset;    /* bytes already in the .part file when this transfer began */
  int64_t written;   /* bytes written by this transfer */
  int overflow;      /* the body ran past the announced size: the write was refused */
  int64_t total;
  sana_fetch_progress_fn progress;
  void *ctx;
} xfer;

static size_t file_write(char *p, size_t sz, size_t nm, void *ud) {
  xfer *x = ud;
  size_t n = sz * nm;
  if (x->offset + x->written + (int64_t)n > x->total) { /* more than the hub said: stop */
    x->overflow = 1;
    return 0;
  }
  size_t w = fwrite(p, 1, n, x->f);
  x->written += (int64_t)w;
  return w;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ut, curl_off_t un) {
  xfer *x = ud;
  if (x->progress) x->progress(x->ctx, x->offset + (int64_t)dlnow, x->total);
  return 0;
}

static int64_t file_size(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 && S_ISREG(sb.st_mode) ? (int64_t)sb.st_size : -1;
}

static sana_status mkdirs_for(const char *path, sana_error *err) {
  char d[4096];
  if (snprintf(d, sizeof d, "%s", path) >= (int)sizeof d) return sana_err(err, SANA_ERR_ARG, "%s: path too long", path);
  for (char *p = d + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(d, 0755) != 0 && errno != EEXIST)
      return sana_err(err, SANA_ERR_IO, "%s: cannot create folder %s: %s", path, d, strerror(errno));
    *p = '/';
  }
  return SANA_OK;
}

/* Does the file at path match f (size, then hash)? 1 yes, 0 no; *why says what differed. */
static sana_status verify(const char *path, const sana_hub_file *f, int *ok, char *why, size_t whyn, sana_error *err) {
  *ok = 0;
  int64_t size = file_size(path);
  if (size != f->size) {
    snprintf(why, whyn, "size %lld bytes, the hub says %lld", (long long)size, (long long)f->size);
    return SANA_OK;
  }
  char got[65];
  const char *want = f->sha256[0] ? f->sha256 : f->git_oid;
  sana_status st = f->sha256[0] ? sana_sha256_file(path, got, err) : sana_git_blob_sha1_file(path, got, err);
  if (st) return st;
  *ok = !strcmp(got, want);
  if (!*ok) snprintf(why, whyn, "%s %s, the hub says %s", f->sha256[0] ? "SHA-256" : "git SHA-1", got, want);
  return SANA_OK;
}

/* One transfer into part, from its current length. Local failures (the .part cannot be
 * written) return an error; otherwise *rc is curl's result, *code the HTTP status, and
 * *overflow says the body ran past the size the hub lists (the write was stopped). */
static sana_status transfer(const sana_hub *hub, const char *url, const char *part, const sana_hub_file *f,
                            sana_fetch_progress_fn progress, void *ctx, CURLcode *rc, long *code, int *overflow,
                            sana_error *err) {
  int64_t have = file_size(part);
  if (have < 0) have = 0;
  FILE *fp = fopen(part, "ab");
  if (!fp) return sana_err(err, SANA_ERR_IO, "%s: cannot write: %s", part, strerror(errno));
  struct curl_slist *hdrs;
  CURL *c = make_handle(hub, url, &hdrs);
  if (!c) {
    fclose(fp);
    return sana_err(err, SANA_ERR_NOMEM, "%s: curl", part);
  }
  xfer x = {.f = fp, .offset = have, .total = f->size, .progress = progress, .ctx = ctx};
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, file_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
  if (have > 0) curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)have);
  *rc = curl_easy_perform(c);
  *code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
  *overflow = x.overflow;
  curl_easy_cleanup(c);
  curl_slist_free_all(hdrs);
  if (fclose(fp) != 0 || (*rc == CURLE_WRITE_ERROR && !*overflow))
    return sana_err(err, SANA_ERR_IO, "%s: write error: %s", part, strerror(errno));
  return SANA_OK;
}

sana_status sana_hub_download(const sana_hub *hub, const char *repo, const sana_hub_file *f, const char *dest,
                              sana_fetch_progress_fn progress, void *ctx, sana_fetch_result *result,
                              sana_error *err) {
  char what[700], why[256];
  snprintf(what, sizeof what, "%s/%s", repo, f->path);
  int ok = 0;
  sana_status st;
  if (file_size(dest) == f->size) {
    if ((st = verify(dest, f, &ok, why, sizeof why, err))) return st;
    if (ok) {
      if (result) *result = SANA_FETCH_PRESENT;
      return SANA_OK;
    }
    SANA_LOGW("%s: the existing file does not match the hub (%s); downloading it again", dest, why);
  }
  if ((st = mkdirs_for(dest, err))) return st;
  char part[4200], url[2048];
  if (snprintf(part, sizeof part, "%s.part", dest) >= (int)sizeof part)
    return sana_err(err, SANA_ERR_ARG, "%s: path too long", dest);
  snprintf(url, sizeof url, "%s/%s/resolve/", hub->endpoint, repo);
  if (!append_path(url, sizeof url, rev_of(hub)) || (strcat(url, "/"), !append_path(url, sizeof url, f->path)))
    return sana_err(err, SANA_ERR_ARG, "%s: URL too long", what);

  int retries = hub->retries > 0 ? hub->retries : 5, resumed = 0, fresh_retry = 0;
  for (int attempt = 0;; attempt++) {
    int64_t have = file_size(part);
    if (have > f->size) unlink(part), have = 0;
    if (have < f->size || f->size == 0) {
      if (have > 0) resumed = 1;
      long code = 0;
      int overflow = 0;
      CURLcode rc = CURLE_OK;
      if ((st = transfer(hub, url, part, f, progress, ctx, &rc, &code, &overflow, err))) return st;
      if (overflow) {
        unlink(part);
        return sana_err(err, SANA_ERR_FORMAT, "%s: the server sent more than the %lld bytes the hub lists", what,
                        (long long)f->size);
      }
      /* 416: our partial file is no prefix the server knows; CURLE_RANGE_ERROR: it answered a
       * resume with the whole file. Both: start over from zero. */
      if ((rc == CURLE_HTTP_RETURNED_ERROR && code == 416) || rc == CURLE_RANGE_ERROR) {
        unlink(part);
        if (attempt < retries) continue;
      }
      if (rc == CURLE_HTTP_RETURNED_ERROR) return http_error(err, code, what, hub);
      if (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_CONNECT || rc == CURLE_UNSUPPORTED_PROTOCOL ||
          rc == CURLE_URL_MALFORMAT)
        return sana_err(err, SANA_ERR_IO, "%s: cannot reach %s: %s", what, hub->endpoint, curl_easy_strerror(rc));
      if (rc != CURLE_OK) {
        int64_t now = file_size(part);
        if (attempt < retries) {
          SANA_LOGW("%s: transfer dropped at %lld of %lld bytes (%s); resuming", what, (long long)(now < 0 ? 0 : now),
                    (long long)f->size, curl_easy_strerror(rc));
          continue;
        }
        return sana_err(err, SANA_ERR_IO, "%s: download failed after %d attempts: %s (partial file kept in %s)", what,
                        attempt + 1, curl_easy_strerror(rc), part);
      }
    }
    if ((st = verify(part, f, &ok, why, sizeof why, err))) return st;
    if (ok) break;
    unlink(part);
    if (resumed && !fresh_retry && attempt < retries) {
      /* A partial file from an earlier run may hold stale bytes: one more try from zero. */
      SANA_LOGW("%s: the resumed file does not match the hub (%s); downloading it from the start", what, why);
      fresh_retry = 1;
      resumed = 0;
      continue;
    }
    return sana_err(err, SANA_ERR_FORMAT, "%s: checksum mismatch (%s); the download was removed", what, why);
  }
  if (rename(part, dest) != 0)
    return sana_err(err, SANA_ERR_IO, "%s: cannot move %s into place: %s", dest, part, strerror(errno));
  if (result) *result = resumed ? SANA_FETCH_RESUMED : SANA_FETCH_DOWNLOADED;
  return SANA_OK;
}
