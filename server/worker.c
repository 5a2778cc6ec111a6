/* The per-session engine worker (see worker.h). */
#include "server/worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define PAD_PTS INT64_MIN /* marks frames added to fill the last chunk of a file */
#define OUT_MAX 72        /* edited frames waiting for the sender (3 chunks) */
#define LAG_MAX 96        /* source frames in flight before a live source drops frames */

/* One chunk at a time over all sessions (see worker.h); stream creation and freeing too,
 * since they allocate from the shared backend. Taken only on worker threads. */
static pthread_mutex_t engine_mu = PTHREAD_MUTEX_INITIALIZER;

/* Workers still running, freed or not: the model must outlive them all. */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_cv = PTHREAD_COND_INITIALIZER;
static int live_workers;

typedef struct out_node {
  sana_frame *f;
  struct out_node *next;
} out_node;

struct sana_worker {
  sana_model *model;
  sana_worker_events ev;
  char name[9];
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  sana_stream *stream; /* set and cleared by the worker thread only, under mu */
  unsigned gen;        /* bumped by every start and reset: a chunk of an older run is discarded */
  int start_req, drop_req;
  uint64_t start_seed;
  char *start_prompt; /* the prompt of the requested start (set_prompt updates it) */
  int active, paused, quit, try_run, eos, done_sent;
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

/* With mu held: forgets the run's counters and output (the stream is the thread's business). */
static void clear_run(sana_worker *w) {
  sana_frame_free(w->last_in);
  w->last_in = NULL;
  out_clear(w);
  w->eos = w->done_sent = w->try_run = 0;
  w->real_in = w->real_out = 0;
  w->chunks = 0;
}

static void engine_free_stream(sana_stream *s) {
  if (!s) return;
  pthread_mutex_lock(&engine_mu);
  sana_stream_free(s);
  pthread_mutex_unlock(&engine_mu);
}

/* With mu held: a file source is finished once every real frame came out. */
static void check_source_done(sana_worker *w) {
  if (!w->eos || w->done_sent || w->real_out < w->real_in) return;
  w->done_sent = 1;
  if (w->ev.source_done && !w->quit) w->ev.source_done(w->ev.user, w->chunks);
}

static void fail_locked(sana_worker *w, const char *reason) {
  w->active = 0;
  if (w->ev.failed && !w->quit) w->ev.failed(w->ev.user, reason);
}

/* With mu held, on the worker thread: drops the current stream and makes the requested one.
 * The lock is released around the engine calls. */
static void swap_stream(sana_worker *w) {
  sana_stream *old = w->stream;
  w->stream = NULL;
  w->drop_req = 0;
  int start = w->start_req;
  w->start_req = 0;
  unsigned gen = w->gen;
  sana_stream_options so = {.seed = w->start_seed, .prompt = w->start_prompt ? w->start_prompt : ""};
  char *prompt = start ? strdup(so.prompt) : NULL;
  so.prompt = prompt ? prompt : "";
  pthread_mutex_unlock(&w->mu);
  engine_free_stream(old);
  sana_stream *s = NULL;
  sana_error err = {0};
  if (start) {
    pthread_mutex_lock(&engine_mu);
    s = sana_stream_new(w->model, &so, &err);
    pthread_mutex_unlock(&engine_mu);
  }
  pthread_mutex_lock(&w->mu);
  if (!start) return;
  if (w->gen != gen || w->quit) { /* reset or restarted meanwhile */
    free(prompt);
    pthread_mutex_unlock(&w->mu);
    engine_free_stream(s);
    pthread_mutex_lock(&w->mu);
    return;
  }
  if (!s) {
    char reason[600];
    snprintf(reason, sizeof reason, "engine: %s", err.msg);
    free(prompt);
    fail_locked(w, reason);
    return;
  }
  /* a prompt set while the stream was being made */
  if (w->start_prompt && strcmp(w->start_prompt, so.prompt)) sana_stream_set_prompt(s, w->start_prompt, NULL);
  free(prompt);
  w->stream = s;
  pthread_cond_broadcast(&w->cv); /* a file feeder waits for the stream */
}

/* With mu held: runs one chunk (without the lock) and queues its frames. */
static void run_one(sana_worker *w) {
  w->try_run = 0;
  sana_stream *s = w->stream;
  unsigned gen = w->gen;
  int chunk = w->chunks;
  /* Logged under our lock, so that it comes before the log line of any pause or reset that
   * this chunk did not see (the tests read the order). */
  if (sana_stream_frames_needed(s) == 0) sana_log(SANA_LOG_DEBUG, "session %s: chunk %d running", w->name, chunk);
  pthread_mutex_unlock(&w->mu);
  /* Pushes and prompt changes go through the stream's own lock meanwhile. */
  int ran = 0;
  sana_error err = {0};
  pthread_mutex_lock(&engine_mu);
  sana_status st = sana_stream_run_chunk(s, &ran, &err);
  pthread_mutex_unlock(&engine_mu);
  pthread_mutex_lock(&w->mu);
  if (w->gen != gen || w->quit) { /* reset or closed meanwhile: the stream is dropped next */
    if (ran) sana_log(SANA_LOG_INFO, "session %s: chunk %d discarded: the run was %s meanwhile", w->name, chunk,
                      w->quit ? "closed" : "reset");
    return;
  }
  if (st != SANA_OK) {
    fail_locked(w, err.msg);
    return;
  }
  if (!ran) return;
  w->chunks++;
  w->try_run = 1; /* more frames may already be queued for the next chunk */
  sana_frame *f;
  while (sana_stream_pop_frame(s, &f)) {
    if (f->pts_us == PAD_PTS) {
      sana_frame_free(f);
      continue;
    }
    w->real_out++;
    out_push(w, f);
  }
  sana_chunk_info info;
  sana_stream_last_chunk(s, &info);
  if (w->ev.chunk_done) w->ev.chunk_done(w->ev.user, &info);
  check_source_done(w);
}

static void *worker_main(void *arg) {
  sana_worker *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->quit && !w->drop_req && !w->start_req &&
           !(w->stream && w->active && !w->paused && w->try_run && w->out_count < OUT_MAX && !w->done_sent))
      pthread_cond_wait(&w->cv, &w->mu);
    if (w->quit) break;
    if (w->drop_req || w->start_req) swap_stream(w);
    else run_one(w);
    pthread_cond_broadcast(&w->cv);
  }
  sana_stream *s = w->stream;
  w->stream = NULL;
  clear_run(w);
  pthread_mutex_unlock(&w->mu);
  engine_free_stream(s);
  free(w->start_prompt);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  free(w);
  pthread_mutex_lock(&live_mu);
  live_workers--;
  pthread_cond_broadcast(&live_cv);
  pthread_mutex_unlock(&live_mu);
  return NULL;
}

sana_worker *sana_worker_new(sana_model *model, const sana_worker_events *ev) {
  sana_worker *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->model = model;
  w->ev = *ev;
  snprintf(w->name, sizeof w->name, "%s", ev->log_name ? ev->log_name : "?");
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  pthread_mutex_lock(&live_mu);
  live_workers++;
  pthread_mutex_unlock(&live_mu);
  if (pthread_create(&w->thread, NULL, worker_main, w)) {
    pthread_mutex_lock(&live_mu);
    live_workers--;
    pthread_mutex_unlock(&live_mu);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
    return NULL;
  }
  pthread_detach(w->thread);
  return w;
}

void sana_worker_free(sana_worker *w) {
  if (!w) return;
  pthread_mutex_lock(&w->mu);
  w->quit = 1;
  w->active = 0;
  out_clear(w);
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  /* w belongs to its thread from here on */
}

void sana_worker_join_all(void) {
  pthread_mutex_lock(&live_mu);
  while (live_workers > 0) pthread_cond_wait(&live_cv, &live_mu);
  pthread_mutex_unlock(&live_mu);
}

void sana_worker_start(sana_worker *w, uint64_t seed, const char *prompt) {
  pthread_mutex_lock(&w->mu);
  w->gen++;
  w->start_req = 1;
  w->start_seed = seed;
  free(w->start_prompt);
  w->start_prompt = strdup(prompt ? prompt : "");
  clear_run(w);
  w->active = 1;
  w->paused = 0;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

void sana_worker_set_prompt(sana_worker *w, const char *prompt) {
  pthread_mutex_lock(&w->mu);
  if (w->start_req || !w->stream) { /* the stream is still being made: it takes this one */
    free(w->start_prompt);
    w->start_prompt = strdup(prompt ? prompt : "");
  } else if (!w->drop_req) {
    sana_stream_set_prompt(w->stream, prompt ? prompt : "", NULL);
  }
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
  w->gen++;
  w->start_req = 0;
  w->drop_req = 1;
  w->active = 0;
  clear_run(w);
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

/* With mu held: whether the current run takes frames now. */
static int accepting(const sana_worker *w) {
  return w->stream && w->active && !w->paused && !w->start_req && !w->drop_req && !w->eos && !w->quit;
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
  unsigned gen = w->gen;
  while (wait && w->active && w->gen == gen && !w->quit &&
         (!w->stream || w->start_req || w->paused || w->real_in - w->real_out > LAG_MAX || w->out_count >= OUT_MAX))
    pthread_cond_wait(&w->cv, &w->mu);
  int ok = 0;
  if (accepting(w) && w->gen == gen && w->real_in - w->real_out <= LAG_MAX) {
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
  if (w->stream && w->active && !w->start_req && !w->drop_req && !w->eos && !w->quit) {
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
