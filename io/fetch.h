/* Downloads from a Hugging Face-style hub with libcurl, checked against the hub's metadata.
 *
 * Metadata: GET {endpoint}/api/models/{repo}/tree/{revision}/{dir} answers a JSON array of
 *   {"type": "file", "path": "vae/config.json", "size": 3124, "oid": "<git blob sha1>",
 *    "lfs": {"oid": "<sha256 of the content>", "size": 4991, "pointerSize": 134}}
 * (the "lfs" object only for files stored in Git LFS: the weights). Content:
 *   GET {endpoint}/{repo}/resolve/{revision}/{path}, redirects followed (the Authorization
 *   header is not forwarded to another host, which is what the hub's CDN expects).
 *
 * A download goes to DEST.part, resumed with a Range request when that file exists (also
 * after a dropped connection, a few times within one call), then its size and hash are
 * checked (SHA-256 for LFS files, the git blob SHA-1 otherwise), and only then is it renamed
 * to DEST. A file that fails the check is deleted. */
#ifndef SANA_IO_FETCH_H
#define SANA_IO_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct sana_hub {
  const char *endpoint; /* "https://huggingface.co" (no trailing slash needed) */
  const char *token;    /* NULL or "": anonymous; else sent as "Authorization: Bearer" */
  const char *revision; /* NULL: "main" */
  int retries;          /* attempts after a dropped transfer, 0: 5 */
} sana_hub;

typedef struct sana_hub_file {
  char path[512];   /* path inside the repo, "vae/config.json" */
  int64_t size;     /* bytes */
  char sha256[65];  /* LFS files: lower-case hex SHA-256 of the content, else "" */
  char git_oid[41]; /* git blob SHA-1 (hex), used when there is no sha256 */
} sana_hub_file;

/* The files (not folders) directly inside `dir` of `repo` ("" for the top). *files is
 * malloc'd (free it); *n its count. */
sana_status sana_hub_list(const sana_hub *hub, const char *repo, const char *dir, sana_hub_file **files, int *n,
                          sana_error *err);

/* The parser behind sana_hub_list, for tests and the fuzz target: body is the hub's answer
 * (untrusted bytes, not NUL-terminated), `what` names it in errors. */
sana_status sana_hub_parse_tree(const char *body, size_t len, const char *what, sana_hub_file **files, int *n,
                                sana_error *err);

typedef void (*sana_fetch_progress_fn)(void *ctx, int64_t done, int64_t total);

typedef enum { SANA_FETCH_DOWNLOADED, SANA_FETCH_RESUMED, SANA_FETCH_PRESENT } sana_fetch_result;

/* Fetches f of repo into dest (parent folders created). A dest that already has the right
 * size and hash is left alone (SANA_FETCH_PRESENT). progress may be NULL. */
sana_status sana_hub_download(const sana_hub *hub, const char *repo, const sana_hub_file *f, const char *dest,
                              sana_fetch_progress_fn progress, void *ctx, sana_fetch_result *result,
                              sana_error *err);

/* Hashes (OpenSSL's libcrypto), lower-case hex into out. */
void sana_sha256_hex(const void *data, size_t n, char out[65]);
sana_status sana_sha256_file(const char *path, char out[65], sana_error *err);
/* git's blob id: SHA-1 of "blob <size>\0" followed by the content. */
sana_status sana_git_blob_sha1_file(const char *path, char out[41], sana_error *err);

#endif
