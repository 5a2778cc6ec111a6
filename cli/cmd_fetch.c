/* `sana fetch`: downloads the official weights into the weights directory (docs/weights.md),
 * checking each file's size and hash against the hub's metadata (io/fetch.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/progress.h"
#include "io/fetch.h"
#include "model/weights.h"

#define DEFAULT_ENDPOINT "https://huggingface.co"

typedef struct component {
  const char *name; /* for --only */
  const char *repo;
  const char *dir;  /* folder inside the repo, "" for the top */
  const char *dest; /* folder under the weights directory */
  const char *const *want; /* exact file names; NULL: the text encoder's rule (is_text_file) */
} component;

static const component components[] = {
    {"dit", "Efficient-Large-Model/SANA-Streaming", "dit", "dit", (const char *const[]){"sana_streaming_ar.pth", NULL}},
    {"vae", "Lightricks/LTX-2", "vae", "vae",
     (const char *const[]){"config.json", "diffusion_pytorch_model.safetensors", NULL}},
    {"text", "Efficient-Large-Model/gemma-2-2b-it", "", "text_encoder", NULL},
};
#define N_COMPONENTS (int)(sizeof components / sizeof *components)

/* Gemma: its configs, weights (+ index) and tokenizer files; not the README or .gitattributes. */
static int is_text_file(const char *name) {
  size_t n = strlen(name);
  if (name[0] == '.') return 0;
  return (n > 5 && !strcmp(name + n - 5, ".json")) || (n > 12 && !strcmp(name + n - 12, ".safetensors")) ||
         !strcmp(name, "tokenizer.model");
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: sana fetch [--dir DIR] [--endpoint URL] [--token TOKEN] [--revision REV]\n"
          "                  [--only dit,vae,text] [--quiet | --progress bar|lines]\n\n"
          "Downloads the official weights, checking sizes and hashes against the hub:\n"
          "  dit   Efficient-Large-Model/SANA-Streaming  dit/sana_streaming_ar.pth  -> DIR/dit/\n"
          "  vae   Lightricks/LTX-2  vae/{config.json,diffusion_pytorch_model.safetensors}  -> DIR/vae/\n"
          "  text  Efficient-Large-Model/gemma-2-2b-it  configs, weights, tokenizer  -> DIR/text_encoder/\n\n"
          "  --dir DIR        weights directory (default $SANA_WEIGHTS, $XDG_CACHE_HOME/sana or ~/.cache/sana)\n"
          "  --endpoint URL   hub to download from (default $HF_ENDPOINT or " DEFAULT_ENDPOINT ")\n"
          "  --token TOKEN    access token for gated repositories (default $HF_TOKEN, then the\n"
          "                   huggingface_hub token file $HF_HOME/token or ~/.cache/huggingface/token)\n"
          "  --revision REV   branch, tag or commit (default main)\n"
          "Interrupted downloads resume where they stopped (FILE.part next to the file).\n");
}

/* The token the huggingface_hub client saves on `huggingface-cli login`. */
static char *token_from_file(void) {
  char path[4096];
  const char *home = getenv("HF_HOME"), *h = getenv("HOME");
  if (home && *home)
    snprintf(path, sizeof path, "%s/token", home);
  else if (h)
    snprintf(path, sizeof path, "%s/.cache/huggingface/token", h);
  else
    return NULL;
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  static char tok[512];
  size_t n = fread(tok, 1, sizeof tok - 1, f);
  fclose(f);
  tok[n] = 0;
  tok[strcspn(tok, "\r\n")] = 0;
  return tok[0] ? tok : NULL;
}

typedef struct planned {
  const component *c;
  sana_hub_file f;
  char dest[SANA_PATH_MAX];
} planned;

static void on_progress(void *ctx, int64_t done, int64_t total) { sana_progress_update(ctx, done, 0); }

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

/* Lists a component's files on the hub and appends the ones we want to the plan. */
static int plan_component(const sana_hub *hub, const component *c, const char *dir, planned **plan, int *n) {
  sana_hub_file *files;
  int nf;
  sana_error err = {0};
  if (sana_hub_list(hub, c->repo, c->dir, &files, &nf, &err)) {
    fprintf(stderr, "sana fetch: %s\n", err.msg);
    return 0;
  }
  int ok = 1, found_st = 0;
  const char *const *want = c->want;
  for (int k = 0; want ? want[k] != NULL : k < nf; k++) {
    const sana_hub_file *hit = NULL;
    if (want) {
      for (int i = 0; i < nf && !hit; i++)
        if (!strcmp(base_name(files[i].path), want[k])) hit = &files[i];
      if (!hit) {
        fprintf(stderr, "sana fetch: %s/%s%s%s is not in the hub's file list\n", c->repo, c->dir, *c->dir ? "/" : "",
                want[k]);
        ok = 0;
        continue;
      }
    } else {
      if (!is_text_file(base_name(files[k].path)) || strchr(files[k].path, '/')) continue;
      hit = &files[k];
      found_st += strstr(hit->path, ".safetensors") != NULL;
    }
    planned *p = realloc(*plan, sizeof **plan * (size_t)(*n + 1));
    if (!p) {
      ok = 0;
      break;
    }
    *plan = p;
    planned *q = &p[*n];
    q->c = c;
    q->f = *hit;
    if (snprintf(q->dest, sizeof q->dest, "%s/%s/%s", dir, c->dest, base_name(hit->path)) >= (int)sizeof q->dest) {
      fprintf(stderr, "sana fetch: %s: path too long\n", dir);
      ok = 0;
      break;
    }
    (*n)++;
  }
  if (!want && !found_st) {
    fprintf(stderr, "sana fetch: %s has no .safetensors weights in its file list\n", c->repo);
    ok = 0;
  }
  free(files);
  return ok;
}

int cmd_fetch(int argc, char **argv) {
  char dir[SANA_PATH_MAX];
  sana_weights_default_dir(dir, sizeof dir);
  const char *endpoint = getenv("HF_ENDPOINT"), *token = getenv("HF_TOKEN"), *revision = "main", *only = NULL;
  sana_progress_mode mode = SANA_PROGRESS_AUTO;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
      mode = SANA_PROGRESS_QUIET;
    } else if (v && !strcmp(a, "--dir")) {
      snprintf(dir, sizeof dir, "%s", v), i++;
    } else if (v && !strcmp(a, "--endpoint")) {
      endpoint = v, i++;
    } else if (v && !strcmp(a, "--token")) {
      token = v, i++;
    } else if (v && !strcmp(a, "--revision")) {
      revision = v, i++;
    } else if (v && !strcmp(a, "--only")) {
      only = v, i++;
    } else if (v && !strcmp(a, "--progress") && (!strcmp(v, "bar") || !strcmp(v, "lines"))) {
      mode = !strcmp(v, "bar") ? SANA_PROGRESS_BAR : SANA_PROGRESS_LINES, i++;
    } else {
      fprintf(stderr, "sana fetch: unknown or incomplete option '%s'\n\n", a);
      usage(stderr);
      return 2;
    }
  }
  if (!endpoint || !*endpoint) endpoint = DEFAULT_ENDPOINT;
  if (!token || !*token) token = token_from_file();
  char ep[1024];
  snprintf(ep, sizeof ep, "%s", endpoint);
  for (size_t n = strlen(ep); n > 0 && ep[n - 1] == '/'; n--) ep[n - 1] = 0;
  sana_hub hub = {.endpoint = ep, .token = token, .revision = revision};

  planned *plan = NULL;
  int n = 0, ok = 1, picked = 0;
  for (int k = 0; k < N_COMPONENTS; k++) {
    const component *c = &components[k];
    if (only) {
      size_t len = strlen(c->name);
      const char *p = strstr(only, c->name);
      if (!p || (p != only && p[-1] != ',') || (p[len] && p[len] != ',')) continue;
    }
    picked++;
    ok &= plan_component(&hub, c, dir, &plan, &n);
  }
  if (only && !picked) {
    fprintf(stderr, "sana fetch: --only %s names no component (dit, vae, text)\n", only);
    return 2;
  }
  if (!ok) {
    fprintf(stderr, "sana fetch: nothing downloaded (from %s)\n", ep);
    free(plan);
    return 1;
  }
  int64_t total = 0;
  for (int i = 0; i < n; i++) total += plan[i].f.size;
  char tb[32];
  if (mode != SANA_PROGRESS_QUIET)
    fprintf(stderr, "sana fetch: %d files, %s, from %s into %s\n", n, sana_progress_fmt_bytes((double)total, tb, sizeof tb),
            ep, dir);

  int counts[3] = {0}, failed = 0;
  for (int i = 0; i < n; i++) {
    planned *p = &plan[i];
    char label[600];
    snprintf(label, sizeof label, "%s/%s", p->c->dest, base_name(p->f.path));
    sana_progress *pr = sana_progress_new(&(sana_progress_opts){
        .mode = mode, .unit = SANA_PROGRESS_BYTES, .label = label, .total = p->f.size});
    sana_error err = {0};
    sana_fetch_result res = SANA_FETCH_DOWNLOADED;
    sana_status st = sana_hub_download(&hub, p->c->repo, &p->f, p->dest, on_progress, pr, &res, &err);
    if (pr && !st) sana_progress_update(pr, p->f.size, 0);
    sana_progress_finish(pr, st == SANA_OK);
    if (st) {
      fprintf(stderr, "sana fetch: %s\n", err.msg);
      failed++;
      continue;
    }
    counts[res]++;
    if (mode != SANA_PROGRESS_QUIET && res == SANA_FETCH_PRESENT) fprintf(stderr, "%s: already present and verified\n", label);
  }
  free(plan);
  if (mode != SANA_PROGRESS_QUIET || failed)
    fprintf(stderr, "sana fetch: %d downloaded, %d resumed, %d already present, %d failed\n",
            counts[SANA_FETCH_DOWNLOADED], counts[SANA_FETCH_RESUMED], counts[SANA_FETCH_PRESENT], failed);
  return failed ? 1 : 0;
}
