/* sana edit: a video file and a prompt in, the edited video out, streamed chunk by chunk as a
 * live session would run it (docs/edit.md). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/progress.h"
#include "core/log.h"
#include "io/checkpoint.h"
#include "io/video.h"
#include "io/video_prep.h"
#include "model/weights.h"
#include "stream/stream.h"

/* A scheduled prompt change: from the first chunk whose first frame is at or after `at_us`
 * (or from chunk `chunk`), the prompt is `text`. */
typedef struct { int64_t at_us; int chunk; char *text; } prompt_change;

typedef struct {
  prompt_change *v;
  int n;
} schedule;

static void usage(FILE *f) {
  fprintf(f,
          "usage: sana edit INPUT -o OUTPUT --prompt TEXT [options]\n"
          "  -o, --output FILE        .mp4/.mov/.mkv (H.264) or .webm (VP9)\n"
          "  -p, --prompt TEXT        the edit, e.g. \"replace the t-shirt with a brown leather jacket\"\n"
          "      --prompt-at WHEN=TEXT  change the prompt later; WHEN is 5s, 1.5s, 1200ms or chunk:3\n"
          "                           (takes effect at the first chunk boundary at or after WHEN)\n"
          "      --prompts FILE.json  a schedule: [{\"at\": \"5s\", \"prompt\": \"...\"}, {\"chunk\": 3, ...}]\n"
          "  -w, --weights DIR        model weights (default: $SANA_WEIGHTS or ~/.cache/sana)\n"
          "      --size WxH           model resolution, multiples of 32 (default 1280x704)\n"
          "      --fps N              write at N frames per second (default: the input's timing)\n"
          "      --seed N             noise seed (default 0)\n"
          "      --noise FILE         exact noise: a safetensors tensor 'noise' [C, T, h, w]\n"
          "      --side-by-side       source on the left, edit on the right\n"
          "      --max-frames N       stop after N input frames\n"
          "      --backend cpu|cuda   (default cpu)\n"
          "  -q, --quiet              no progress output\n");
}

static int parse_when(const char *s, size_t n, prompt_change *c) {
  char buf[64], *end;
  if (n >= sizeof buf) return -1;
  memcpy(buf, s, n);
  buf[n] = 0;
  c->at_us = -1;
  c->chunk = -1;
  if (!strncmp(buf, "chunk:", 6)) {
    long k = strtol(buf + 6, &end, 10);
    if (end == buf + 6 || *end || k < 0 || k > 1000000) return -1;
    c->chunk = (int)k;
    return 0;
  }
  double v = strtod(buf, &end);
  if (end == buf || v < 0 || v > 1e7) return -1;
  if (!strcmp(end, "s")) c->at_us = (int64_t)(v * 1e6 + 0.5);
  else if (!strcmp(end, "ms")) c->at_us = (int64_t)(v * 1e3 + 0.5);
  else return -1;
  return 0;
}

static int add_change(schedule *sc, prompt_change c) {
  prompt_change *v = realloc(sc->v, sizeof *v * (size_t)(sc->n + 1));
  if (!v) return -1;
  sc->v = v;
  sc->v[sc->n++] = c;
  return 0;
}

static int parse_prompt_at(schedule *sc, const char *arg) {
  const char *eq = strchr(arg, '=');
  prompt_change c;
  if (!eq || parse_when(arg, (size_t)(eq - arg), &c)) return -1;
  if (!(c.text = strdup(eq + 1))) return -1;
  return add_change(sc, c);
}

static int load_schedule(schedule *sc, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "sana edit: %s: cannot open\n", path); return -1; }
  char *buf = NULL;
  size_t n = 0, cap = 0;
  for (size_t r; (r = fread((buf = n + 4096 > cap ? realloc(buf, cap = 2 * cap + 4096) : buf) + n, 1, 4096, f)) > 0;)
    n += r;
  fclose(f);
  cJSON *root = cJSON_ParseWithLength(buf, n);
  free(buf);
  int rc = 0, i = 0;
  if (!cJSON_IsArray(root)) { fprintf(stderr, "sana edit: %s: expected a JSON array of changes\n", path); rc = -1; }
  for (cJSON *e = root ? root->child : NULL; e && !rc; e = e->next, i++) {
    cJSON *at = cJSON_GetObjectItemCaseSensitive(e, "at"), *ch = cJSON_GetObjectItemCaseSensitive(e, "chunk"),
          *p = cJSON_GetObjectItemCaseSensitive(e, "prompt");
    prompt_change c = {.at_us = -1, .chunk = -1};
    if (!cJSON_IsString(p)) rc = -1;
    else if (cJSON_IsString(at)) rc = parse_when(at->valuestring, strlen(at->valuestring), &c);
    else if (cJSON_IsNumber(at) && at->valuedouble >= 0 && at->valuedouble < 1e7) c.at_us = (int64_t)(at->valuedouble * 1e6);
    else if (cJSON_IsNumber(ch) && ch->valuedouble >= 0 && ch->valuedouble < 1e6) c.chunk = (int)ch->valuedouble;
    else rc = -1;
    if (rc) fprintf(stderr, "sana edit: %s: entry %d needs \"prompt\" and \"at\" (\"5s\") or \"chunk\" (3)\n", path, i);
    else if (!(c.text = strdup(p->valuestring)) || add_change(sc, c)) rc = -1;
  }
  cJSON_Delete(root);
  return rc;
}

/* The prompt for a chunk starting at chunk index k, first frame time t: the last change due. */
static const char *due_prompt(const schedule *sc, int k, int64_t t, int *which) {
  const char *p = NULL;
  int best = -1;
  for (int i = 0; i < sc->n; i++) {
    int due = sc->v[i].chunk >= 0 ? k >= sc->v[i].chunk : t >= sc->v[i].at_us;
    if (due && i > best) { best = i; p = sc->v[i].text; }
  }
  *which = best;
  return p;
}

/* The source as the model sees it (cover-resize + crop), back in RGB8, for the left half. */
static sana_status source_at_model_size(const sana_video_frame *vf, int W, int H, sana_frame *k, sana_error *err) {
  float *planes = malloc(sizeof(float) * 3 * (size_t)W * (size_t)H);
  if (!planes) return sana_err(err, SANA_ERR_NOMEM, "out of memory");
  sana_status s = sana_video_prep_frame(vf->rgb, vf->height, vf->width, 3 * vf->width, H, W, SANA_F32, planes,
                                        (ptrdiff_t)W * H, err);
  if (!s) s = sana_video_unprep_frame(planes, SANA_F32, (ptrdiff_t)W * H, H, W, k->rgb, err);
  free(planes);
  return s;
}

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { g_stop = sig; }

int cmd_edit(int argc, char **argv) {
  static const struct option opts[] = {
      {"output", required_argument, 0, 'o'}, {"prompt", required_argument, 0, 'p'},
      {"prompt-at", required_argument, 0, 'A'}, {"prompts", required_argument, 0, 'P'},
      {"weights", required_argument, 0, 'w'}, {"size", required_argument, 0, 'S'},
      {"fps", required_argument, 0, 'F'}, {"seed", required_argument, 0, 's'},
      {"noise", required_argument, 0, 'N'}, {"side-by-side", no_argument, 0, 'b'},
      {"max-frames", required_argument, 0, 'M'}, {"backend", required_argument, 0, 'B'},
      {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  const char *out_path = NULL, *prompt = NULL, *weights = NULL, *noise_path = NULL, *backend = "cpu";
  int W = 1280, H = 704, sbs = 0, quiet = 0, fps = 0;
  long long max_frames = -1;
  unsigned long long seed = 0;
  schedule sc = {0};
  int rc = 1, c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:p:w:qh", opts, NULL)) != -1) {
    char *end = NULL;
    switch (c) {
    case 'o': out_path = optarg; break;
    case 'p': prompt = optarg; break;
    case 'A':
      if (parse_prompt_at(&sc, optarg)) { fprintf(stderr, "sana edit: --prompt-at '%s': expected WHEN=TEXT with WHEN like 5s, 1200ms or chunk:3\n", optarg); goto out; }
      break;
    case 'P': if (load_schedule(&sc, optarg)) goto out; break;
    case 'w': weights = optarg; break;
    case 'S':
      if (sscanf(optarg, "%dx%d", &W, &H) != 2 || W <= 0 || H <= 0 || W % 32 || H % 32 || W > 8192 || H > 8192) {
        fprintf(stderr, "sana edit: --size '%s': expected WxH, multiples of 32 (e.g. 1280x704)\n", optarg);
        goto out;
      }
      break;
    case 'F':
      fps = (int)strtol(optarg, &end, 10);
      if (*end || fps <= 0 || fps > 1000) { fprintf(stderr, "sana edit: --fps '%s': expected 1..1000\n", optarg); goto out; }
      break;
    case 's':
      errno = 0;
      seed = strtoull(optarg, &end, 10);
      if (*end || errno || optarg[0] == '-') { fprintf(stderr, "sana edit: --seed '%s': expected a non-negative integer\n", optarg); goto out; }
      break;
    case 'N': noise_path = optarg; break;
    case 'b': sbs = 1; break;
    case 'M':
      max_frames = strtoll(optarg, &end, 10);
      if (*end || max_frames <= 0) { fprintf(stderr, "sana edit: --max-frames '%s': expected a positive integer\n", optarg); goto out; }
      break;
    case 'B': backend = optarg; break;
    case 'q': quiet = 1; break;
    case 'h': usage(stdout); rc = 0; goto out;
    default: usage(stderr); rc = 2; goto out;
    }
  }
  if (optind != argc - 1 || !out_path || !prompt) {
    fprintf(stderr, "sana edit: need one INPUT, -o OUTPUT and --prompt\n");
    usage(stderr);
    rc = 2;
    goto out;
  }
  const char *in_path = argv[optind];
  char wdir[4096];
  if (!weights) weights = sana_weights_default_dir(wdir, sizeof wdir);

  sana_error err = {0};
  sana_video_reader *rd = NULL;
  sana_video_writer *wr = NULL;
  sana_model *m = NULL;
  sana_stream *st = NULL;
  sana_ckpt *noise_ck = NULL;
  sana_progress *pg = NULL;
  const sana_tensor *noise = NULL;
  int64_t frames_in = 0, frames_out = 0;
  /* source frames at the model size, kept until their edit is written (side by side) */
  sana_frame **src_keep = NULL;
  int64_t keep_head = 0, keep_n = 0, keep_cap = 0;

  /* input first: a missing or broken file fails before the slow model load */
  if (sana_video_reader_open(&rd, in_path, &err)) goto fail;
  const sana_video_info *vi = sana_video_reader_info(rd);
  if (noise_path) {
    if (sana_ckpt_open(&noise_ck, noise_path, &err)) goto fail;
    if (!(noise = sana_ckpt_find(noise_ck, "noise")) || noise->dtype != SANA_F32) {
      sana_err(&err, SANA_ERR_MISSING, "%s: needs an F32 tensor 'noise' [C, T, h, w]", noise_path);
      goto fail;
    }
  }
  sana_model_options mo = {.backend = backend, .width = W, .height = H};
  if (!(m = sana_model_load(weights, &mo, &err))) goto fail;
  sana_stream_options so = {.seed = seed, .prompt = prompt, .noise = noise};
  if (!(st = sana_stream_new(m, &so, &err))) goto fail;
  sana_video_writer_opts wo = {.width = W, .height = H, .fps_num = fps ? fps : vi->fps_num,
                               .fps_den = fps ? 1 : vi->fps_den, .force_fps = fps > 0, .side_by_side = sbs};
  if (wo.fps_num <= 0) { wo.fps_num = 24; wo.fps_den = 1; }
  if (sana_video_writer_open(&wr, out_path, &wo, &err)) goto fail;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  int64_t total = vi->frame_count;
  if (max_frames > 0 && (total == 0 || total > max_frames)) total = max_frames;
  pg = sana_progress_new(&(sana_progress_opts){.mode = quiet ? SANA_PROGRESS_QUIET : SANA_PROGRESS_AUTO,
                                               .label = "edit", .total = total});
  int eof = 0, chunks = 0, applied = -1;
  while (!g_stop) {
    sana_video_frame vf;
    int got = 0;
    if (!eof && (max_frames < 0 || frames_in < max_frames)) {
      if (sana_video_reader_next(rd, &vf, &got, &err)) goto fail;
    }
    if (!got) eof = 1;
    if (got) {
      int need = sana_stream_frames_needed(st);
      /* prompt changes land at a chunk boundary: the first frame of a chunk decides */
      if (need == (chunks == 0 ? 33 : 24)) {
        int which;
        const char *p = due_prompt(&sc, chunks, vf.pts_us, &which);
        if (p && which != applied) {
          if (sana_stream_set_prompt(st, p, &err)) goto fail;
          applied = which;
        }
      }
      sana_frame f = {.width = vf.width, .height = vf.height, .stride = 3 * vf.width, .rgb = (uint8_t *)vf.rgb,
                      .pts_us = vf.pts_us};
      if (sana_stream_push_frame(st, &f, &err)) goto fail;
      if (sbs) { /* keep the source at the model size for the left half */
        if (keep_n == keep_cap) {
          int64_t nc = keep_cap ? 2 * keep_cap : 64;
          sana_frame **nk = malloc(sizeof *nk * (size_t)nc);
          if (!nk) { sana_err(&err, SANA_ERR_NOMEM, "out of memory"); goto fail; }
          for (int64_t i = 0; i < keep_n; i++) nk[i] = src_keep[(keep_head + i) % keep_cap];
          free(src_keep);
          src_keep = nk;
          keep_cap = nc;
          keep_head = 0;
        }
        sana_frame *k = sana_frame_alloc(W, H);
        if (!k || source_at_model_size(&vf, W, H, k, &err)) {
          sana_frame_free(k);
          if (!err.code) sana_err(&err, SANA_ERR_NOMEM, "out of memory");
          goto fail;
        }
        src_keep[(keep_head + keep_n++) % keep_cap] = k;
      }
      frames_in++;
    }
    int ran = 0;
    if (got) {
      if (sana_stream_run_chunk(st, &ran, &err)) goto fail;
    } else {
      if (frames_in == 0) { sana_err(&err, SANA_ERR_FORMAT, "%s: no frames", in_path); goto fail; }
      if (sana_stream_flush(st, &ran, &err)) goto fail;
    }
    if (ran) chunks++;
    sana_frame *o;
    while (sana_stream_pop_frame(st, &o)) {
      const uint8_t *left = NULL;
      sana_frame *k = NULL;
      if (sbs && keep_n) {
        k = src_keep[keep_head];
        keep_head = (keep_head + 1) % keep_cap;
        keep_n--;
        left = k->rgb;
      }
      sana_status ws = sana_video_writer_write(wr, o->rgb, left, o->pts_us, &err);
      sana_frame_free(o);
      sana_frame_free(k);
      if (ws) goto fail;
      frames_out++;
    }
    sana_progress_update(pg, frames_out, chunks);
    if (eof && !ran) break;
  }
  if (g_stop) {
    sana_err(&err, SANA_ERR_STATE, "interrupted");
    goto fail;
  }
  for (int64_t i = 0; i < keep_n; i++) sana_frame_free(src_keep[(keep_head + i) % keep_cap]);
  free(src_keep);
  src_keep = NULL;
  keep_n = 0;
  sana_status fs = sana_video_writer_finish(wr, &err);
  wr = NULL;
  if (fs) goto fail;
  sana_progress_finish(pg, 1);
  pg = NULL;
  if (!quiet) fprintf(stderr, "sana edit: wrote %s: %lld frames, %d chunks\n", out_path, (long long)frames_out, chunks);
  rc = 0;
  goto done;
fail:
  for (int64_t i = 0; i < keep_n; i++) sana_frame_free(src_keep[(keep_head + i) % keep_cap]);
  free(src_keep);
  sana_progress_finish(pg, 0);
  pg = NULL;
  fprintf(stderr, "sana edit: %s\n", err.msg[0] ? err.msg : "failed");
  rc = 1;
done:
  sana_video_writer_abort(wr);
  sana_stream_free(st);
  sana_model_free(m);
  sana_ckpt_close(noise_ck);
  sana_video_reader_close(rd);
out:
  for (int i = 0; i < sc.n; i++) free(sc.v[i].text);
  free(sc.v);
  return rc;
}
