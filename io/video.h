/* Video files through the FFmpeg 5.1 libraries: a reader that decodes any container/codec
 * FFmpeg has a decoder for to packed RGB8 frames with their timestamps, and a writer that
 * encodes MP4/MOV/MKV (H.264, libx264) or WebM (VP9 or VP8, libvpx), chosen by extension.
 *
 * Frame rate: the reader does not resample. Frames come as the file stores them (as upstream's
 * PyAV loop takes them, model-spec §3.1), each with its presentation time; the writer keeps
 * those times unless a rate is forced, so the output's timing follows the input's.
 *
 * Ownership: the reader owns the RGB buffer it hands out (valid until the next call); the
 * writer copies what it is given. Both are opaque, with _open / _close (_finish) pairs. */
#ifndef SANA_IO_VIDEO_H
#define SANA_IO_VIDEO_H

#include <stdint.h>

#include "core/error.h"

typedef struct sana_video_reader sana_video_reader;

typedef struct sana_video_info {
  int width, height;     /* decoded picture size (every frame is converted to this size) */
  int fps_num, fps_den;  /* the stream's frame rate as FFmpeg guesses it; 0/1 when unknown */
  int64_t duration_us;   /* container duration, 0 when unknown */
  int64_t frame_count;   /* frames the container declares, 0 when unknown (decode to be sure) */
  char codec[32];        /* decoder name, e.g. "h264", "vp9" */
  char format[32];       /* container, e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
} sana_video_info;

typedef struct sana_video_frame {
  int width, height;
  const uint8_t *rgb;    /* height rows of width·3 bytes (R, G, B), owned by the reader */
  int64_t pts_us;        /* presentation time in microseconds, relative to the first frame */
  int64_t index;         /* 0, 1, 2, ... in decode output order (= presentation order) */
} sana_video_frame;

/* Opens `path` and decodes its first frame, so that a file which is missing, empty, not a
 * video, has no decoder in this build, or holds no decodable frame fails here with a message
 * naming the file. */
sana_status sana_video_reader_open(sana_video_reader **out, const char *path, sana_error *err);
const sana_video_info *sana_video_reader_info(const sana_video_reader *r);

/* The next frame: *got = 1 and *frame filled, or *got = 0 at the end of the stream. A decode
 * error in the middle of a file is reported (not treated as the end). */
sana_status sana_video_reader_next(sana_video_reader *r, sana_video_frame *frame, int *got, sana_error *err);
void sana_video_reader_close(sana_video_reader *r);

typedef struct sana_video_writer sana_video_writer;

typedef struct sana_video_writer_opts {
  int width, height;      /* size of each frame given to _write (even numbers) */
  int fps_num, fps_den;   /* nominal rate: a hint to the encoder, or the forced rate */
  int force_fps;          /* 1: frame i is shown at i·fps_den/fps_num seconds, pts ignored */
  int side_by_side;       /* 1: the file is 2·width wide, the source on the left, the edit right */
  const char *codec;      /* NULL: by extension (.mp4/.mov/.mkv -> libx264, .webm -> libvpx-vp9);
                             or "libx264", "libvpx" (VP8), "libvpx-vp9" */
  int crf;                /* quality, 0: the default (x264 18, VP9 32, VP8 10) */
} sana_video_writer_opts;

/* Starts writing: the frames go to a temporary file next to `path` (same directory, hidden
 * name), which _finish renames to `path`. An unwritable directory fails here. */
sana_status sana_video_writer_open(sana_video_writer **out, const char *path, const sana_video_writer_opts *o,
                                   sana_error *err);

/* Adds one frame: rgb is height x width packed RGB8 (the edit); src the source frame of the
 * same size when side_by_side is set (ignored otherwise). pts_us is the frame's presentation
 * time (ignored with force_fps); times that do not increase are nudged forward by one tick. */
sana_status sana_video_writer_write(sana_video_writer *w, const uint8_t *rgb, const uint8_t *src, int64_t pts_us,
                                    sana_error *err);

/* Flushes the encoder, writes the trailer, renames the file into place and frees the writer
 * (also on failure, removing the temporary file). Writing zero frames is an error. */
sana_status sana_video_writer_finish(sana_video_writer *w, sana_error *err);

/* Abandons the output: removes the temporary file and frees the writer. NULL is a no-op. */
void sana_video_writer_abort(sana_video_writer *w);

/* The temporary file's path, for a signal handler that must unlink it (async-signal-safe to
 * read; the string lives as long as the writer). */
const char *sana_video_writer_temp_path(const sana_video_writer *w);

#endif
