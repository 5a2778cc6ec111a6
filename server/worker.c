/* The per-session engine worker (see worker.h). */
#include "server/worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAD_PTS INT64_MIN /* marks frames added to fill the last chunk of a file */
#define OUT_MAX 72        /* edited frames waiting for the sender (3 chunks) */
#define LAG_MAX 96        /* source frames in flight before a live source drops frames */

typedef struct out_node {
  sana_frame *f;
  struct out_node *next;
} out_node;

struct sana_worker {
  sana_model *model;
  sana_worker_events ev;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  sana_stream *stream;
  int active, paused, quit, reset_req, try_run, eos, done_sent;
  int64_t real_in, real_out; /* source frames pushed / edited frames popped from the stream */
  int chunks;
  sana_frame *last_in; /* for padding the last chunk of a file */
  out_node *head, *tail;
  int out_count;
};

static void out_clear(sana_worker *w) {
  while (w->head) {
    out_node *n = w->head;
    w->head = n->next;
    sana_frame_free(n->f);
    free(n);
  }
  w->tail = NULL;
  w->out_count = 0;
}

static void out_push(sana_worker *w, sana_frame *f) {
  out_node *n = calloc(1, sizeof *n);
  if (!n) {
    sana_frame_free(f);
    return;
  }
  n->f = f;
  if (w->tail) w->tail->next = n;
  else w->head = n;
  w->tail = n;
  w->out_count++;
}

static void drop_run(sana_worker *w) {
  sana_stream_free(w->stream);
  w->stream = NULL;
  sana_frame_free(w->last_in);
  w->last_in = NULL;
  out_clear(w);
  w->active = w->paused = w->eos = w->done_sent = w->try_run = 0;
  w->real_in = w->real_out = 0;
  w->chunks = 0;
}

/* With the mutex held: a file source is finished once every real frame came out. */
static void check_source_done(sana_worker *w) {
  if (!w->eos || w->done_sent || w->real_out < w->real_in) return;
  w->done_sent = 1;
  int chunks = w->chunks;
  pthread_mutex_unlock(&w->mu);
  if (w->ev.source_done) w->ev.source_done(w->ev.user, chunks);
  pthread_mutex_lock(&w->mu);
}

static void *worker_main(void *arg) {
  sana_worker *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->quit && !w->reset_req &&
           !(w->active && !w->paused && w->try_run && w->out_count < OUT_MAX && !w->done_sent))
      pthread_cond_wait(&w->cv, &w->mu);
    if (w->quit) break;
    if (w->reset_req) {
      drop_run(w);
      w->reset_req = 0;
      pthread_cond_broadcast(&w->cv);
      continue;
    }
    w->try_run = 0;
    sana_stream *s = w->stream;
    pthread_mutex_unlock(&w->mu);
    /* The chunk runs without our lock: pushes and prompt changes go through the stream's own. */
    int ran = 0;
    sana_error err = {0};
    sana_status st = sana_stream_run_chunk(s, &ran, &err);
    pthread_mutex_lock(&w->mu);
    if (st != SANA_OK) {
      w->active = 0;
      pthread_mutex_unlock(&w->mu);
      if (w->ev.failed) w->ev.failed(w->ev.user, err.msg);
      pthread_mutex_lock(&w->mu);
      continue;
    }
    if (!ran) continue;
    w->chunks++;
    w->try_run = 1; /* more frames may already be queued for the next chunk */
    sana_frame *f;
    while (sana_stream_pop_frame(s, &f)) {
      if (f->pts_us == PAD_PTS || w->reset_req) {
        sana_frame_free(f);
        continue;
      }
      w->real_out++;
      out_push(w, f);
    }
    sana_chunk_info info;
    sana_stream_last_chunk(s, &info);
    if (!w->reset_req) {
      pthread_mutex_unlock(&w->mu);
      if (w->ev.chunk_done) w->ev.chunk_done(w->ev.user, &info);
      pthread_mutex_lock(&w->mu);
      check_source_done(w);
    }
    pthread_cond_broadcast(&w->cv);
  }
  drop_run(w);
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

sana_worker *sana_worker_new(sana_model *model, const sana_worker_events *ev) {
  sana_worker *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->model = model;
  w->ev = *ev;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  if (pthread_create(&w->thread, NULL, worker_main, w)) {
    free(w);
    return NULL;
  }
  return w;
}

void sana_worker_free(sana_worker *w) {
  if (!w) return;
  pthread_mutex_lock(&w->mu);
  w->quit = 1;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  free(w);
}

int sana_worker_start(sana_worker *w, uint64_t seed, const char *prompt, char *reason, int reason_size) {
  sana_stream_options so = {.seed = seed, .prompt = prompt ? prompt : ""};
  sana_error err = {0};
  sana_stream *s = sana_stream_new(w->model, &so, &err);
  if (!s) {
    snprintf(reason, reason_size, "engine: %s", err.msg);
    return -1;
  }
  pthread_mutex_lock(&w->mu);
  while (w->reset_req) pthread_cond_wait(&w->cv, &w->mu);
  drop_run(w);
  w->stream = s;
  w->active = 1;
  pthread_mutex_unlock(&w->mu);
  return 0;
}

void sana_worker_set_prompt(sana_worker *w, const char *prompt) {
  pthread_mutex_lock(&w->mu);
  if (w->stream && !w->reset_req) sana_stream_set_prompt(w->stream, prompt, NULL);
  pthread_mutex_unlock(&w->mu);
}

void sana_worker_pause(sana_worker *w, int paused) {
  pthread_mutex_lock(&w->mu);
  w->paused = paused;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

void sana_worker_reset(sana_worker *w) {
  pthread_mutex_lock(&w->mu);
  w->reset_req = 1;
  w->active = 0;
  out_clear(w);
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

static int push_locked(sana_worker *w, const sana_frame *f) {
  sana_error err = {0};
  if (sana_stream_push_frame(w->stream, f, &err) != SANA_OK) return 0;
  w->try_run = 1;
  pthread_cond_broadcast(&w->cv);
  return 1;
}

int sana_worker_push(sana_worker *w, const sana_frame *f, int wait) {
  pthread_mutex_lock(&w->mu);
  while (wait && w->active && !w->reset_req && !w->quit &&
         (w->real_in - w->real_out > LAG_MAX || w->out_count >= OUT_MAX))
    pthread_cond_wait(&w->cv, &w->mu);
  int ok = 0;
  if (w->active && !w->paused && !w->reset_req && !w->eos && w->real_in - w->real_out <= LAG_MAX) {
    ok = push_locked(w, f);
    if (ok) {
      w->real_in++;
      if (wait) { /* keep a copy for padding the last chunk */
        if (!w->last_in || w->last_in->width != f->width || w->last_in->height != f->height) {
          sana_frame_free(w->last_in);
          w->last_in = sana_frame_alloc(f->width, f->height);
        }
        if (w->last_in)
          for (int y = 0; y < f->height; y++)
            memcpy(w->last_in->rgb + (size_t)y * w->last_in->stride, f->rgb + (size_t)y * f->stride, (size_t)f->width * 3);
      }
    }
  }
  pthread_mutex_unlock(&w->mu);
  return ok;
}

void sana_worker_end_of_source(sana_worker *w) {
  pthread_mutex_lock(&w->mu);
  if (w->active && !w->eos) {
    w->eos = 1;
    /* Fill the last chunk with copies of the last frame; their output is dropped. The first
     * chunk needs 33 frames, later ones 24, so 33 copies always complete it. */
    if (w->last_in) {
      w->last_in->pts_us = PAD_PTS;
      for (int i = 0; i < 33; i++) push_locked(w, w->last_in);
    }
    check_source_done(w);
  }
  pthread_mutex_unlock(&w->mu);
}

sana_frame *sana_worker_pop_output(sana_worker *w) {
  pthread_mutex_lock(&w->mu);
  sana_frame *f = NULL;
  if (w->head) {
    out_node *n = w->head;
    w->head = n->next;
    if (!w->head) w->tail = NULL;
    w->out_count--;
    f = n->f;
    free(n);
    pthread_cond_broadcast(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
  return f;
}

int sana_worker_active(sana_worker *w) {
  pthread_mutex_lock(&w->mu);
  int a = w->active;
  pthread_mutex_unlock(&w->mu);
  return a;
}
