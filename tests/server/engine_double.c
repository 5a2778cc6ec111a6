/* TEST DOUBLE of the engine API (stream/stream.h) for the server tests. It is NOT the engine
 * and is never linked into `sana`: it lets the server's protocol, pacing and WebRTC paths be
 * tested before (and independently of) the real model.
 *
 * Behaviour, chosen so that the tests can see what the server did with each chunk:
 * - chunks of 33 frames, then 24, as the engine documents;
 * - an output frame is its source frame (at the model size) with the top 8 rows painted in a
 *   colour derived from the chunk's prompt, so a prompt switch is visible in the video;
 * - the prompt set with sana_stream_set_prompt takes effect at the next chunk;
 * - each chunk takes SANA_DOUBLE_CHUNK_MS milliseconds (default 50), to exercise pacing. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "stream/stream.h"

struct sana_model {
  int width, height;
};

typedef struct qnode {
  sana_frame *f;
  struct qnode *next;
} qnode;

struct sana_stream {
  sana_model *m;
  pthread_mutex_t mu;
  char *pending_prompt, *active_prompt;
  qnode *in_head, *in_tail, *out_head, *out_tail;
  int in_count, chunk_index, frames_emitted, chunks_run;
  double seconds;
};

sana_frame *sana_frame_alloc(int width, int height) {
  sana_frame *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->width = width;
  f->height = height;
  f->stride = width * 3;
  f->rgb = calloc((size_t)f->stride, (size_t)height);
  if (!f->rgb) {
    free(f);
    return NULL;
  }
  return f;
}

void sana_frame_free(sana_frame *f) {
  if (!f) return;
  free(f->rgb);
  free(f);
}

sana_model *sana_model_load(const char *dir, const sana_model_options *opt, sana_error *err) {
  struct stat st;
  if (!dir || stat(dir, &st) || !S_ISDIR(st.st_mode)) {
    sana_err(err, SANA_ERR_IO, "weights directory '%s' does not exist", dir ? dir : "(null)");
    return NULL;
  }
  sana_model *m = calloc(1, sizeof *m);
  m->width = opt && opt->width ? opt->width : 1280;
  m->height = opt && opt->height ? opt->height : 704;
  return m;
}

void sana_model_free(sana_model *m) { free(m); }
void sana_model_size(const sana_model *m, int *w, int *h) {
  *w = m->width;
  *h = m->height;
}

sana_stream *sana_stream_new(sana_model *m, const sana_stream_options *opt, sana_error *err) {
  sana_stream *s = calloc(1, sizeof *s);
  s->m = m;
  pthread_mutex_init(&s->mu, NULL);
  s->pending_prompt = strdup(opt && opt->prompt ? opt->prompt : "");
  s->active_prompt = strdup("");
  return s;
}

static void q_free(qnode *n) {
  while (n) {
    qnode *next = n->next;
    sana_frame_free(n->f);
    free(n);
    n = next;
  }
}

void sana_stream_free(sana_stream *s) {
  if (!s) return;
  q_free(s->in_head);
  q_free(s->out_head);
  free(s->pending_prompt);
  free(s->active_prompt);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

sana_status sana_stream_set_prompt(sana_stream *s, const char *text, sana_error *err) {
  pthread_mutex_lock(&s->mu);
  free(s->pending_prompt);
  s->pending_prompt = strdup(text ? text : "");
  pthread_mutex_unlock(&s->mu);
  return SANA_OK;
}

static void q_push(qnode **head, qnode **tail, sana_frame *f) {
  qnode *n = calloc(1, sizeof *n);
  n->f = f;
  if (*tail) (*tail)->next = n;
  else *head = n;
  *tail = n;
}

static sana_frame *q_pop(qnode **head, qnode **tail) {
  qnode *n = *head;
  if (!n) return NULL;
  *head = n->next;
  if (!*head) *tail = NULL;
  sana_frame *f = n->f;
  free(n);
  return f;
}

/* Nearest-neighbour copy to the model size (the real engine cover-resizes). */
sana_status sana_stream_push_frame(sana_stream *s, const sana_frame *src, sana_error *err) {
  sana_frame *f = sana_frame_alloc(s->m->width, s->m->height);
  if (!f) return sana_err(err, SANA_ERR_NOMEM, "frame");
  for (int y = 0; y < f->height; y++) {
    const uint8_t *row = src->rgb + (size_t)src->stride * (y * src->height / f->height);
    for (int x = 0; x < f->width; x++) memcpy(f->rgb + (size_t)f->stride * y + 3 * x, row + 3 * (x * src->width / f->width), 3);
  }
  f->pts_us = src->pts_us;
  pthread_mutex_lock(&s->mu);
  q_push(&s->in_head, &s->in_tail, f);
  s->in_count++;
  pthread_mutex_unlock(&s->mu);
  return SANA_OK;
}

int sana_stream_frames_needed(const sana_stream *s) { return s->chunks_run ? 24 : 33; }

/* The prompt's colour: FNV-1a of the text, one byte per channel; "" is no tint. */
static void prompt_colour(const char *p, uint8_t rgb[3]) {
  uint32_t h = 2166136261u;
  for (; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
  rgb[0] = (uint8_t)h;
  rgb[1] = (uint8_t)(h >> 8);
  rgb[2] = (uint8_t)(h >> 16);
}

sana_status sana_stream_run_chunk(sana_stream *s, int *ran, sana_error *err) {
  int need = sana_stream_frames_needed(s);
  pthread_mutex_lock(&s->mu);
  *ran = s->in_count >= need;
  if (!*ran) {
    pthread_mutex_unlock(&s->mu);
    return SANA_OK;
  }
  free(s->active_prompt);
  s->active_prompt = strdup(s->pending_prompt);
  uint8_t c[3];
  prompt_colour(s->active_prompt, c);
  int tint = s->active_prompt[0] != 0;
  sana_frame *batch[33];
  for (int i = 0; i < need; i++) batch[i] = q_pop(&s->in_head, &s->in_tail);
  s->in_count -= need;
  pthread_mutex_unlock(&s->mu);
  const char *ms = getenv("SANA_DOUBLE_CHUNK_MS");
  long delay = ms ? atol(ms) : 50;
  struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
  nanosleep(&ts, NULL);
  for (int i = 0; i < need; i++)
    if (tint)
      for (int y = 0; y < 8 && y < batch[i]->height; y++)
        for (int x = 0; x < batch[i]->width; x++) memcpy(batch[i]->rgb + (size_t)batch[i]->stride * y + 3 * x, c, 3);
  pthread_mutex_lock(&s->mu);
  for (int i = 0; i < need; i++) q_push(&s->out_head, &s->out_tail, batch[i]);
  s->chunk_index = s->chunks_run++;
  s->frames_emitted += need;
  s->seconds = delay / 1000.0;
  pthread_mutex_unlock(&s->mu);
  return SANA_OK;
}

int sana_stream_pop_frame(sana_stream *s, sana_frame **out) {
  pthread_mutex_lock(&s->mu);
  *out = q_pop(&s->out_head, &s->out_tail);
  pthread_mutex_unlock(&s->mu);
  return *out != NULL;
}

void sana_stream_last_chunk(const sana_stream *s, sana_chunk_info *info) {
  info->chunk_index = s->chunk_index;
  info->frames_emitted = s->frames_emitted;
  info->active_prompt = s->active_prompt;
  info->seconds = s->seconds;
}

void sana_stream_reset(sana_stream *s) {
  pthread_mutex_lock(&s->mu);
  q_free(s->in_head);
  q_free(s->out_head);
  s->in_head = s->in_tail = s->out_head = s->out_tail = NULL;
  s->in_count = s->chunk_index = s->frames_emitted = s->chunks_run = 0;
  pthread_mutex_unlock(&s->mu);
}
