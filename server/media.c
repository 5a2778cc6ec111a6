/* File decoding for file mode (see media.h). */
#include "server/media.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdio.h>

typedef struct {
  GstElement *conv;
  sana_media_info *info;
} pad_ctx;

static void on_pad(GstElement *dec, GstPad *pad, pad_ctx *c) {
  GstCaps *caps = gst_pad_get_current_caps(pad);
  if (!caps) return;
  const GstStructure *s = gst_caps_get_structure(caps, 0);
  if (g_str_has_prefix(gst_structure_get_name(s), "video/x-raw")) {
    gst_structure_get_int(s, "width", &c->info->width);
    gst_structure_get_int(s, "height", &c->info->height);
    int n = 0, d = 1;
    if (gst_structure_get_fraction(s, "framerate", &n, &d) && d) c->info->fps = (double)n / d;
    GstPad *sink = gst_element_get_static_pad(c->conv, "sink");
    if (!gst_pad_is_linked(sink)) gst_pad_link(pad, sink);
    gst_object_unref(sink);
  }
  gst_caps_unref(caps);
}

int sana_media_decode(const char *path, int width, int height, int (*fn)(void *user, const sana_frame *f),
                      void *user, sana_media_info *info, char *error, size_t es) {
  *info = (sana_media_info){0};
  GstElement *pipe = gst_pipeline_new(NULL);
  GstElement *src = gst_element_factory_make("filesrc", NULL);
  GstElement *dec = gst_element_factory_make("decodebin", NULL);
  GstElement *conv = gst_element_factory_make("videoconvert", NULL);
  GstElement *scale = gst_element_factory_make("videoscale", NULL);
  GstElement *sink = gst_element_factory_make("appsink", NULL);
  g_object_set(src, "location", path, NULL);
  GstCaps *caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "RGB", "width", G_TYPE_INT, width,
                                      "height", G_TYPE_INT, height, "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
  g_object_set(sink, "caps", caps, "sync", FALSE, "max-buffers", 4, NULL);
  gst_caps_unref(caps);
  gst_bin_add_many(GST_BIN(pipe), src, dec, conv, scale, sink, NULL);
  gst_element_link(src, dec);
  gst_element_link_many(conv, scale, sink, NULL);
  pad_ctx ctx = {conv, info};
  g_signal_connect(dec, "pad-added", G_CALLBACK(on_pad), &ctx);
  int rc = 0;
  if (gst_element_set_state(pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    snprintf(error, es, "cannot start decoding");
    rc = -1;
  }
  GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(pipe));
  GstMessage *m = NULL;
  int idle = 0;
  while (!rc) {
    GstSample *s = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 100 * GST_MSECOND);
    if (!s) {
      /* End of stream, an error (reported below) or a stall of 10 s. */
      if (gst_app_sink_is_eos(GST_APP_SINK(sink)) || ++idle >= 100) break;
      if ((m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR))) break;
      continue;
    }
    idle = 0;
    GstVideoInfo vi;
    GstVideoFrame vf;
    if (gst_video_info_from_caps(&vi, gst_sample_get_caps(s)) &&
        gst_video_frame_map(&vf, &vi, gst_sample_get_buffer(s), GST_MAP_READ)) {
      sana_frame f = {.width = GST_VIDEO_FRAME_WIDTH(&vf), .height = GST_VIDEO_FRAME_HEIGHT(&vf),
                      .stride = GST_VIDEO_FRAME_PLANE_STRIDE(&vf, 0), .rgb = GST_VIDEO_FRAME_PLANE_DATA(&vf, 0),
                      .pts_us = (int64_t)info->num_frames};
      info->num_frames++;
      int more = fn ? fn(user, &f) : 1;
      gst_video_frame_unmap(&vf);
      if (!more) {
        gst_sample_unref(s);
        break;
      }
    }
    gst_sample_unref(s);
  }
  if (!m) m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  if (m && !rc) {
    GError *e = NULL;
    gst_message_parse_error(m, &e, NULL);
    snprintf(error, es, "decode failed: %s", e ? e->message : "unknown error");
    if (e) g_error_free(e);
    rc = -1;
  }
  if (m) gst_message_unref(m);
  gst_object_unref(bus);
  gst_element_set_state(pipe, GST_STATE_NULL);
  gst_object_unref(pipe);
  if (!rc && info->num_frames == 0) {
    snprintf(error, es, "decode failed: no video frames in the file");
    rc = -1;
  }
  return rc;
}
