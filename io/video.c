/* FFmpeg-backed video reader and writer; see video.h. */
#include "io/video.h"

#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

static const AVRational us_tb = {1, 1000000};

/* FFmpeg logs every encoder's statistics at info level; our errors carry what matters. Keep
 * its own messages to errors unless SANA_LOG=debug. */
static void quiet_ffmpeg(void) {
  static int done;
  if (done) return;
  done = 1;
  const char *lvl = getenv("SANA_LOG");
  av_log_set_level(lvl && !strcmp(lvl, "debug") ? AV_LOG_INFO : AV_LOG_ERROR);
}

static sana_status av_fail(sana_error *err, sana_status code, int averr, const char *fmt, const char *path) {
  char buf[AV_ERROR_MAX_STRING_SIZE];
  av_strerror(averr, buf, sizeof buf);
  return sana_err(err, code, fmt, path, buf);
}

/* The swscale coefficient table for a frame's colour matrix; unspecified means BT.601, which is
 * FFmpeg's (and PyAV's) default too. */
static int sws_matrix(enum AVColorSpace cs) {
  switch (cs) {
  case AVCOL_SPC_BT709: return SWS_CS_ITU709;
  case AVCOL_SPC_BT2020_NCL:
  case AVCOL_SPC_BT2020_CL: return SWS_CS_BT2020;
  case AVCOL_SPC_SMPTE240M: return SWS_CS_SMPTE240M;
  case AVCOL_SPC_FCC: return SWS_CS_FCC;
  default: return SWS_CS_DEFAULT;
  }
}

static int full_range(enum AVPixelFormat f, enum AVColorRange r) {
  return r == AVCOL_RANGE_JPEG || f == AV_PIX_FMT_YUVJ420P || f == AV_PIX_FMT_YUVJ422P || f == AV_PIX_FMT_YUVJ444P;
}

/* ---------------------------------------------------------------------------------------- */
/* Reader                                                                                   */

struct sana_video_reader {
  char *path;
  AVFormatContext *fmt;
  AVCodecContext *dec;
  int stream;
  AVRational tb;
  AVPacket *pkt;
  AVFrame *frm;
  struct SwsContext *sws;
  uint8_t *rgb;
  sana_video_info info;
  int eof_sent;
  int bad_packets;
  int64_t first_us, last_us, index;
  int primed; /* the first frame is decoded and waiting in rgb */
  sana_video_frame first;
};

/* Decodes into r->frm: 1 a frame, 0 the end, or an error. Damaged packets are skipped with a
 * warning (a decoder can usually resume at the next key frame), as players do. */
static sana_status decode_next(sana_video_reader *r, int *got, sana_error *err) {
  for (;;) {
    int ret = avcodec_receive_frame(r->dec, r->frm);
    if (ret == 0) return *got = 1, SANA_OK;
    if (ret == AVERROR_EOF) return *got = 0, SANA_OK;
    if (ret != AVERROR(EAGAIN)) return av_fail(err, SANA_ERR_FORMAT, ret, "%s: decoding failed: %s", r->path);
    ret = av_read_frame(r->fmt, r->pkt);
    if (ret == AVERROR_EOF) {
      avcodec_send_packet(r->dec, NULL); /* drain the decoder's delayed frames */
      r->eof_sent = 1;
      continue;
    }
    if (ret < 0) return av_fail(err, SANA_ERR_IO, ret, "%s: reading failed: %s", r->path);
    if (r->pkt->stream_index == r->stream) {
      ret = avcodec_send_packet(r->dec, r->pkt);
      if (ret < 0 && ret != AVERROR(EAGAIN)) {
        if (r->bad_packets++ == 0) {
          char buf[AV_ERROR_MAX_STRING_SIZE];
          av_strerror(ret, buf, sizeof buf);
          SANA_LOGW("%s: skipping a damaged packet (%s)", r->path, buf);
        }
      }
    }
    av_packet_unref(r->pkt);
  }
}

/* r->frm -> r->rgb at the stream's size, with the frame's own colour matrix and range. */
static sana_status frame_to_rgb(sana_video_reader *r, sana_error *err) {
  AVFrame *f = r->frm;
  r->sws = sws_getCachedContext(r->sws, f->width, f->height, f->format, r->info.width, r->info.height,
                                AV_PIX_FMT_RGB24, SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL,
                                NULL, NULL);
  if (!r->sws)
    return sana_err(err, SANA_ERR_UNSUPPORTED, "%s: cannot convert pixel format %s to RGB", r->path,
                    av_get_pix_fmt_name(f->format));
  const int *coef = sws_getCoefficients(sws_matrix(f->colorspace));
  sws_setColorspaceDetails(r->sws, coef, full_range(f->format, f->color_range), sws_getCoefficients(SWS_CS_DEFAULT),
                           1, 0, 1 << 16, 1 << 16);
  uint8_t *dst[4] = {r->rgb};
  int dst_stride[4] = {r->info.width * 3};
  sws_scale(r->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dst_stride);
  return SANA_OK;
}

static sana_status reader_step(sana_video_reader *r, sana_video_frame *fr, int *got, sana_error *err) {
  sana_status st = decode_next(r, got, err);
  if (st || !*got) return st;
  st = frame_to_rgb(r, err);
  if (st) return st;
  int64_t ts = r->frm->best_effort_timestamp, us;
  if (ts != AV_NOPTS_VALUE) {
    us = av_rescale_q(ts, r->tb, us_tb);
  } else if (r->index > 0) {
    /* No timestamp: one nominal frame after the previous one. */
    int num = r->info.fps_num > 0 ? r->info.fps_num : 25, den = r->info.fps_num > 0 ? r->info.fps_den : 1;
    us = r->last_us + av_rescale(1000000, den, num);
  } else {
    us = 0;
  }
  if (r->index == 0) r->first_us = us;
  r->last_us = us;
  av_frame_unref(r->frm);
  fr->width = r->info.width;
  fr->height = r->info.height;
  fr->rgb = r->rgb;
  fr->pts_us = us - r->first_us;
  fr->index = r->index++;
  return SANA_OK;
}

sana_status sana_video_reader_open(sana_video_reader **out, const char *path, sana_error *err) {
  *out = NULL;
  quiet_ffmpeg();
  struct stat sb;
  if (stat(path, &sb) != 0) return sana_err(err, SANA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  if (S_ISDIR(sb.st_mode)) return sana_err(err, SANA_ERR_ARG, "%s: is a directory, not a video file", path);
  if (sb.st_size == 0) return sana_err(err, SANA_ERR_FORMAT, "%s: is empty (0 bytes), not a video file", path);

  sana_video_reader *r = calloc(1, sizeof *r);
  if (!r) return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", path);
  r->path = strdup(path);
  r->pkt = av_packet_alloc();
  r->frm = av_frame_alloc();
  sana_status st = SANA_OK;
  if (!r->path || !r->pkt || !r->frm) {
    st = sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", path);
    goto fail;
  }
  int ret = avformat_open_input(&r->fmt, path, NULL, NULL);
  if (ret < 0) {
    st = av_fail(err, SANA_ERR_FORMAT, ret, "%s: not a video file FFmpeg can read (%s)", path);
    goto fail;
  }
  ret = avformat_find_stream_info(r->fmt, NULL);
  if (ret < 0) {
    st = av_fail(err, SANA_ERR_FORMAT, ret, "%s: cannot read stream information (%s)", path);
    goto fail;
  }
  const AVCodec *codec = NULL;
  r->stream = av_find_best_stream(r->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (r->stream == AVERROR_STREAM_NOT_FOUND) {
    st = sana_err(err, SANA_ERR_FORMAT, "%s: has no video stream (container %s)", path, r->fmt->iformat->name);
    goto fail;
  }
  AVStream *vs = r->fmt->streams[r->stream >= 0 ? r->stream : 0];
  if (r->stream < 0 || !codec) {
    st = sana_err(err, SANA_ERR_UNSUPPORTED, "%s: no decoder for its video codec %s in this FFmpeg build", path,
                  avcodec_get_name(vs->codecpar->codec_id));
    goto fail;
  }
  for (unsigned i = 0; i < r->fmt->nb_streams; i++)
    if ((int)i != r->stream) r->fmt->streams[i]->discard = AVDISCARD_ALL;
  r->tb = vs->time_base;
  r->dec = avcodec_alloc_context3(codec);
  if (!r->dec || avcodec_parameters_to_context(r->dec, vs->codecpar) < 0) {
    st = sana_err(err, SANA_ERR_NOMEM, "%s: cannot set up the %s decoder", path, codec->name);
    goto fail;
  }
  r->dec->pkt_timebase = vs->time_base;
  r->dec->thread_count = 0; /* FFmpeg picks */
  ret = avcodec_open2(r->dec, codec, NULL);
  if (ret < 0) {
    st = av_fail(err, SANA_ERR_UNSUPPORTED, ret, "%s: cannot open the decoder (%s)", path);
    goto fail;
  }
  sana_video_info *in = &r->info;
  in->width = r->dec->width;
  in->height = r->dec->height;
  if (in->width <= 0 || in->height <= 0 || in->width > 16384 || in->height > 16384) {
    st = sana_err(err, SANA_ERR_FORMAT, "%s: bad picture size %dx%d", path, in->width, in->height);
    goto fail;
  }
  AVRational fr = av_guess_frame_rate(r->fmt, vs, NULL);
  in->fps_num = fr.den > 0 ? fr.num : 0;
  in->fps_den = fr.den > 0 && fr.num > 0 ? fr.den : 1;
  if (in->fps_num <= 0) in->fps_num = 0;
  in->duration_us = r->fmt->duration > 0 ? av_rescale_q(r->fmt->duration, AV_TIME_BASE_Q, us_tb) : 0;
  in->frame_count = vs->nb_frames > 0 ? vs->nb_frames : 0;
  snprintf(in->codec, sizeof in->codec, "%s", codec->name);
  snprintf(in->format, sizeof in->format, "%s", r->fmt->iformat->name);
  r->rgb = malloc((size_t)in->width * in->height * 3);
  if (!r->rgb) {
    st = sana_err(err, SANA_ERR_NOMEM, "%s: out of memory for a %dx%d frame", path, in->width, in->height);
    goto fail;
  }
  int got = 0;
  st = reader_step(r, &r->first, &got, err);
  if (st) goto fail;
  if (!got) {
    st = sana_err(err, SANA_ERR_FORMAT, "%s: contains no decodable video frames (%s, %s)", path, in->format,
                  in->codec);
    goto fail;
  }
  r->primed = 1;
  *out = r;
  return SANA_OK;
fail:
  sana_video_reader_close(r);
  return st;
}

const sana_video_info *sana_video_reader_info(const sana_video_reader *r) { return &r->info; }

sana_status sana_video_reader_next(sana_video_reader *r, sana_video_frame *frame, int *got, sana_error *err) {
  if (r->primed) {
    r->primed = 0;
    *frame = r->first;
    *got = 1;
    return SANA_OK;
  }
  return reader_step(r, frame, got, err);
}

void sana_video_reader_close(sana_video_reader *r) {
  if (!r) return;
  sws_freeContext(r->sws);
  avcodec_free_context(&r->dec);
  avformat_close_input(&r->fmt);
  av_packet_free(&r->pkt);
  av_frame_free(&r->frm);
  free(r->rgb);
  free(r->path);
  free(r);
}

/* ---------------------------------------------------------------------------------------- */
/* Writer                                                                                   */

struct sana_video_writer {
  char *path, *tmp;
  sana_video_writer_opts o;
  AVFormatContext *fmt;
  AVCodecContext *enc;
  AVStream *st;
  AVFrame *frm;
  AVPacket *pkt;
  struct SwsContext *sws;
  uint8_t *sbs; /* the side-by-side composite */
  int64_t frames, last_pts;
};

/* ".../dir/name.mp4" -> ".../dir/.name.mp4.XXXXXX", created empty with mkstemp so that the
 * name is ours; the muxer then reopens it. A hidden name in the same directory keeps the final
 * rename atomic (same filesystem) and out of the way of globbing for outputs. */
static sana_status make_temp(const char *path, char **tmp, sana_error *err) {
  const char *slash = strrchr(path, '/');
  size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
  const char *base = slash ? slash + 1 : path;
  size_t n = strlen(path) + 16;
  char *t = malloc(n);
  if (!t) return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", path);
  snprintf(t, n, "%.*s.%s.XXXXXX", (int)dirlen, path, base);
  int fd = mkstemp(t);
  if (fd < 0) {
    int e = errno;
    free(t);
    if (dirlen) return sana_err(err, SANA_ERR_IO, "%s: cannot write in %.*s: %s", path, (int)dirlen, path, strerror(e));
    return sana_err(err, SANA_ERR_IO, "%s: cannot write in the current directory: %s", path, strerror(e));
  }
  close(fd);
  *tmp = t;
  return SANA_OK;
}

static const char *default_codec(const AVOutputFormat *of) {
  return strstr(of->name, "webm") ? "libvpx-vp9" : "libx264";
}

static void set_codec_options(AVCodecContext *enc, const sana_video_writer_opts *o) {
  char crf[16];
  const char *name = enc->codec->name;
  if (!strcmp(name, "libx264")) {
    snprintf(crf, sizeof crf, "%d", o->crf > 0 ? o->crf : 18);
    av_opt_set(enc->priv_data, "preset", "medium", 0);
    av_opt_set(enc->priv_data, "crf", crf, 0);
  } else if (!strcmp(name, "libvpx-vp9")) {
    /* Constant quality (crf with no bitrate target); cpu-used 4 is ~4x faster than the default
     * at a small cost in size. */
    snprintf(crf, sizeof crf, "%d", o->crf > 0 ? o->crf : 32);
    enc->bit_rate = 0;
    av_opt_set(enc->priv_data, "crf", crf, 0);
    av_opt_set(enc->priv_data, "deadline", "good", 0);
    av_opt_set(enc->priv_data, "cpu-used", "4", 0);
    av_opt_set(enc->priv_data, "row-mt", "1", 0);
  } else if (!strcmp(name, "libvpx")) {
    /* VP8's constrained quality needs a bitrate ceiling. */
    snprintf(crf, sizeof crf, "%d", o->crf > 0 ? o->crf : 10);
    enc->bit_rate = 8000000;
    av_opt_set(enc->priv_data, "crf", crf, 0);
    av_opt_set(enc->priv_data, "deadline", "good", 0);
    av_opt_set(enc->priv_data, "cpu-used", "4", 0);
  }
}

static sana_status writer_setup(sana_video_writer *w, sana_error *err) {
  const sana_video_writer_opts *o = &w->o;
  const char *path = w->path;
  const AVOutputFormat *of = av_guess_format(NULL, path, NULL);
  if (!of || of->video_codec == AV_CODEC_ID_NONE)
    return sana_err(err, SANA_ERR_ARG, "%s: cannot tell a video container from the extension (use .mp4, .mov, .mkv or .webm)",
                    path);
  const char *cname = o->codec ? o->codec : default_codec(of);
  const AVCodec *codec = avcodec_find_encoder_by_name(cname);
  if (!codec) return sana_err(err, SANA_ERR_UNSUPPORTED, "%s: this FFmpeg build has no %s encoder", path, cname);
  if (avformat_query_codec(of, codec->id, FF_COMPLIANCE_NORMAL) != 1)
    return sana_err(err, SANA_ERR_ARG, "%s: the %s container cannot hold %s video", path, of->name, codec->name);
  int width = o->side_by_side ? 2 * o->width : o->width;
  int ret = avformat_alloc_output_context2(&w->fmt, of, NULL, w->tmp);
  if (ret < 0) return av_fail(err, SANA_ERR_IO, ret, "%s: cannot set up the muxer (%s)", path);
  w->enc = avcodec_alloc_context3(codec);
  w->frm = av_frame_alloc();
  w->pkt = av_packet_alloc();
  if (!w->enc || !w->frm || !w->pkt) return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", path);
  AVCodecContext *e = w->enc;
  e->width = width;
  e->height = o->height;
  e->pix_fmt = AV_PIX_FMT_YUV420P;
  e->sample_aspect_ratio = (AVRational){1, 1};
  e->framerate = (AVRational){o->fps_num, o->fps_den};
  /* Forced rate: one tick per frame. Otherwise microseconds, so the source times pass unchanged. */
  e->time_base = o->force_fps ? (AVRational){o->fps_den, o->fps_num} : us_tb;
  e->color_range = AVCOL_RANGE_MPEG;
  e->colorspace = AVCOL_SPC_BT709;
  e->color_primaries = AVCOL_PRI_BT709;
  e->color_trc = AVCOL_TRC_BT709;
  e->thread_count = 0;
  if (of->flags & AVFMT_GLOBALHEADER) e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  set_codec_options(e, o);
  ret = avcodec_open2(e, codec, NULL);
  if (ret < 0) return av_fail(err, SANA_ERR_UNSUPPORTED, ret, "%s: cannot open the encoder (%s)", path);
  w->st = avformat_new_stream(w->fmt, NULL);
  if (!w->st) return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", path);
  w->st->time_base = e->time_base;
  w->st->avg_frame_rate = e->framerate;
  ret = avcodec_parameters_from_context(w->st->codecpar, e);
  if (ret < 0) return av_fail(err, SANA_ERR_UNSUPPORTED, ret, "%s: encoder parameters (%s)", path);
  ret = avio_open(&w->fmt->pb, w->tmp, AVIO_FLAG_WRITE);
  if (ret < 0) return av_fail(err, SANA_ERR_IO, ret, "%s: cannot open for writing (%s)", w->tmp);
  ret = avformat_write_header(w->fmt, NULL);
  if (ret < 0) return av_fail(err, SANA_ERR_IO, ret, "%s: cannot write the header (%s)", path);
  w->frm->format = e->pix_fmt;
  w->frm->width = e->width;
  w->frm->height = e->height;
  ret = av_frame_get_buffer(w->frm, 0);
  if (ret < 0) return av_fail(err, SANA_ERR_NOMEM, ret, "%s: frame buffer (%s)", path);
  w->sws = sws_getContext(width, o->height, AV_PIX_FMT_RGB24, width, o->height, AV_PIX_FMT_YUV420P,
                          SWS_BILINEAR | SWS_ACCURATE_RND, NULL, NULL, NULL);
  if (!w->sws) return sana_err(err, SANA_ERR_UNSUPPORTED, "%s: cannot convert RGB to YUV 4:2:0", path);
  /* Match the BT.709 limited-range tags above, so that readers get the colours back. */
  sws_setColorspaceDetails(w->sws, sws_getCoefficients(SWS_CS_DEFAULT), 1, sws_getCoefficients(SWS_CS_ITU709), 0, 0,
                           1 << 16, 1 << 16);
  if (o->side_by_side) {
    w->sbs = malloc((size_t)width * o->height * 3);
    if (!w->sbs) return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", path);
  }
  return SANA_OK;
}

sana_status sana_video_writer_open(sana_video_writer **out, const char *path, const sana_video_writer_opts *o,
                                   sana_error *err) {
  *out = NULL;
  quiet_ffmpeg();
  if (o->width <= 0 || o->height <= 0 || (o->width & 1) || (o->height & 1) || o->width > 8192 || o->height > 8192)
    return sana_err(err, SANA_ERR_ARG, "%s: frame size %dx%d (want even sizes up to 8192)", path, o->width, o->height);
  if (o->fps_num <= 0 || o->fps_den <= 0)
    return sana_err(err, SANA_ERR_ARG, "%s: frame rate %d/%d", path, o->fps_num, o->fps_den);
  struct stat sb;
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
    return sana_err(err, SANA_ERR_ARG, "%s: is a directory, not an output file name", path);
  sana_video_writer *w = calloc(1, sizeof *w);
  if (!w || !(w->path = strdup(path))) {
    free(w);
    return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", path);
  }
  w->o = *o;
  w->last_pts = INT64_MIN;
  sana_status st = make_temp(path, &w->tmp, err);
  if (!st) st = writer_setup(w, err);
  w->o.codec = NULL; /* the caller's string: not kept past open */
  if (st) {
    sana_video_writer_abort(w);
    return st;
  }
  *out = w;
  return SANA_OK;
}

/* Moves every packet the encoder has ready into the file. */
static sana_status drain(sana_video_writer *w, sana_error *err) {
  for (;;) {
    int ret = avcodec_receive_packet(w->enc, w->pkt);
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return SANA_OK;
    if (ret < 0) return av_fail(err, SANA_ERR_BACKEND, ret, "%s: encoding failed (%s)", w->path);
    av_packet_rescale_ts(w->pkt, w->enc->time_base, w->st->time_base);
    w->pkt->stream_index = w->st->index;
    ret = av_interleaved_write_frame(w->fmt, w->pkt);
    if (ret < 0) return av_fail(err, SANA_ERR_IO, ret, "%s: writing failed (%s)", w->tmp);
  }
}

sana_status sana_video_writer_write(sana_video_writer *w, const uint8_t *rgb, const uint8_t *src, int64_t pts_us,
                                    sana_error *err) {
  const sana_video_writer_opts *o = &w->o;
  const uint8_t *pic = rgb;
  int width = o->width;
  if (o->side_by_side) {
    if (!src) return sana_err(err, SANA_ERR_ARG, "%s: side by side needs the source frame", w->path);
    size_t row = (size_t)o->width * 3;
    for (int y = 0; y < o->height; y++) {
      memcpy(w->sbs + 2 * row * y, src + row * y, row);
      memcpy(w->sbs + 2 * row * y + row, rgb + row * y, row);
    }
    pic = w->sbs;
    width *= 2;
  }
  int ret = av_frame_make_writable(w->frm);
  if (ret < 0) return av_fail(err, SANA_ERR_NOMEM, ret, "%s: frame buffer (%s)", w->path);
  const uint8_t *in[4] = {pic};
  int in_stride[4] = {width * 3};
  sws_scale(w->sws, in, in_stride, 0, o->height, w->frm->data, w->frm->linesize);
  int64_t pts = o->force_fps ? w->frames : av_rescale_q(pts_us, us_tb, w->enc->time_base);
  if (w->last_pts != INT64_MIN && pts <= w->last_pts) pts = w->last_pts + 1;
  w->frm->pts = w->last_pts = pts;
  ret = avcodec_send_frame(w->enc, w->frm);
  if (ret < 0) return av_fail(err, SANA_ERR_BACKEND, ret, "%s: encoding failed (%s)", w->path);
  w->frames++;
  return drain(w, err);
}

static void writer_free(sana_video_writer *w) {
  if (w->fmt && w->fmt->pb) avio_closep(&w->fmt->pb);
  avformat_free_context(w->fmt);
  avcodec_free_context(&w->enc);
  av_frame_free(&w->frm);
  av_packet_free(&w->pkt);
  sws_freeContext(w->sws);
  free(w->sbs);
  free(w->tmp);
  free(w->path);
  free(w);
}

sana_status sana_video_writer_finish(sana_video_writer *w, sana_error *err) {
  sana_status st = SANA_OK;
  if (w->frames == 0) {
    st = sana_err(err, SANA_ERR_STATE, "%s: no frames to write", w->path);
  } else {
    int ret = avcodec_send_frame(w->enc, NULL);
    st = ret < 0 ? av_fail(err, SANA_ERR_BACKEND, ret, "%s: flushing the encoder (%s)", w->path) : drain(w, err);
    if (!st && (ret = av_write_trailer(w->fmt)) < 0)
      st = av_fail(err, SANA_ERR_IO, ret, "%s: writing the trailer (%s)", w->tmp);
    if (!st && (ret = avio_closep(&w->fmt->pb)) < 0)
      st = av_fail(err, SANA_ERR_IO, ret, "%s: closing (%s)", w->tmp);
    if (!st && rename(w->tmp, w->path) != 0)
      st = sana_err(err, SANA_ERR_IO, "%s: cannot move %s into place: %s", w->path, w->tmp, strerror(errno));
  }
  if (st) {
    sana_video_writer_abort(w);
    return st;
  }
  writer_free(w);
  return SANA_OK;
}

void sana_video_writer_abort(sana_video_writer *w) {
  if (!w) return;
  if (w->fmt && w->fmt->pb) avio_closep(&w->fmt->pb);
  if (w->tmp) unlink(w->tmp);
  writer_free(w);
}

const char *sana_video_writer_temp_path(const sana_video_writer *w) { return w->tmp; }
