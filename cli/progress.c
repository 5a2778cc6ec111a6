/* Progress reporting; see progress.h. */
#include "cli/progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/log.h"

struct sana_progress {
  sana_progress_opts o;
  char label[64];
  double t0, last_draw;
  int64_t done, chunks;
  int drawn; /* bar mode: a line is on screen without its newline */
};

char *sana_progress_fmt_duration(double s, char *buf, size_t n) {
  if (!(s >= 0) || s > 360000) {
    snprintf(buf, n, "--:--");
    return buf;
  }
  long t = lround(s);
  if (t >= 3600)
    snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
  return buf;
}

char *sana_progress_fmt_bytes(double b, char *buf, size_t n) {
  static const char *units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000 && u < 4) b /= 1000, u++;
  if (u == 0)
    snprintf(buf, n, "%.0f B", b);
  else
    snprintf(buf, n, b < 10 ? "%.2f %s" : b < 100 ? "%.1f %s" : "%.0f %s", b, units[u]);
  return buf;
}

sana_progress *sana_progress_new(const sana_progress_opts *o) {
  sana_progress *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->o = *o;
  if (!p->o.out) p->o.out = stderr;
  if (!p->o.clock) p->o.clock = sana_now;
  if (p->o.interval <= 0) p->o.interval = 2.0;
  if (p->o.mode == SANA_PROGRESS_AUTO) p->o.mode = isatty(fileno(p->o.out)) ? SANA_PROGRESS_BAR : SANA_PROGRESS_LINES;
  if (p->o.width <= 0) {
    struct winsize ws;
    p->o.width = ioctl(fileno(p->o.out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 80;
  }
  snprintf(p->label, sizeof p->label, "%s", o->label ? o->label : "");
  p->o.label = p->label;
  p->t0 = p->last_draw = p->o.clock();
  return p;
}

/* "120/969 frames  5/40 chunks  12.3 fps  ETA 1:09" (or sizes and a byte rate). */
static void status_text(const sana_progress *p, double now, int final, char *buf, size_t n) {
  double el = now - p->t0, rate = el > 0 ? p->done / el : 0;
  char a[32], b[32], r[32], eta[32];
  size_t k = 0;
  if (p->o.unit == SANA_PROGRESS_BYTES) {
    sana_progress_fmt_bytes((double)p->done, a, sizeof a);
    if (p->o.total > 0)
      k += snprintf(buf + k, n - k, "%s / %s", a, sana_progress_fmt_bytes((double)p->o.total, b, sizeof b));
    else
      k += snprintf(buf + k, n - k, "%s", a);
    k += snprintf(buf + k, n - k, "  %s/s", sana_progress_fmt_bytes(rate, r, sizeof r));
  } else {
    if (p->o.total > 0)
      k += snprintf(buf + k, n - k, "%lld/%lld frames", (long long)p->done, (long long)p->o.total);
    else
      k += snprintf(buf + k, n - k, "%lld frames", (long long)p->done);
    if (p->o.chunks_total > 0 && k < n)
      k += snprintf(buf + k, n - k, "  %lld/%lld chunks", (long long)p->chunks, (long long)p->o.chunks_total);
    if (k < n) k += snprintf(buf + k, n - k, "  %.1f fps", rate);
  }
  if (k >= n) return;
  if (final)
    snprintf(buf + k, n - k, "  done in %s", sana_progress_fmt_duration(el, eta, sizeof eta));
  else if (p->o.total > 0 && rate > 0 && p->done < p->o.total)
    snprintf(buf + k, n - k, "  ETA %s", sana_progress_fmt_duration((p->o.total - p->done) / rate, eta, sizeof eta));
}

static void draw(sana_progress *p, double now, int final, int ok) {
  char text[256];
  status_text(p, now, final && ok, text, sizeof text);
  FILE *f = p->o.out;
  if (p->o.mode == SANA_PROGRESS_LINES) {
    fprintf(f, "%s%s%s%s\n", p->label, *p->label ? ": " : "", text, final && !ok ? "  stopped" : "");
  } else {
    /* label [####....] text, fitted to the width; \r and erase-to-end redraw in place. */
    int room = p->o.width - 1 - (int)strlen(p->label) - (int)strlen(text) - 4;
    fprintf(f, "\r%s ", p->label);
    if (p->o.total > 0 && room >= 10) {
      int bar = room > 40 ? 40 : room;
      double frac = (double)p->done / p->o.total;
      int fill = (int)(bar * (frac > 1 ? 1 : frac));
      fputc('[', f);
      for (int i = 0; i < bar; i++) fputc(i < fill ? '#' : '.', f);
      fputs("] ", f);
    }
    fprintf(f, "%s%s\033[K", text, final && !ok ? "  stopped" : "");
    if (final) fputc('\n', f);
    p->drawn = !final;
  }
  fflush(f);
  p->last_draw = now;
}

void sana_progress_update(sana_progress *p, int64_t done, int64_t chunks_done) {
  if (!p || p->o.mode == SANA_PROGRESS_QUIET) {
    if (p) p->done = done, p->chunks = chunks_done;
    return;
  }
  p->done = done;
  p->chunks = chunks_done;
  double now = p->o.clock();
  double gap = p->o.mode == SANA_PROGRESS_BAR ? 0.1 : p->o.interval;
  if (now - p->last_draw >= gap) draw(p, now, 0, 1);
}

void sana_progress_set_total(sana_progress *p, int64_t total) {
  if (p) p->o.total = total;
}

void sana_progress_finish(sana_progress *p, int ok) {
  if (!p) return;
  if (p->o.mode != SANA_PROGRESS_QUIET) draw(p, p->o.clock(), 1, ok);
  free(p);
}
