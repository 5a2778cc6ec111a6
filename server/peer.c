/* A WebRTC answerer on webrtcbin (see peer.h). */
#define _GNU_SOURCE
#define GST_USE_UNSTABLE_API
#include "server/peer.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "server/sdp.h"

struct sana_peer {
  gint refs;
  gboolean closed;
  sana_peer_events ev;
  sana_peer_config cfg;
  GstElement *pipe, *webrtc, *appsrc;
  guint bus_watch;
  GstWebRTCDataChannel *channel;
  gboolean answered;
  int send_idx, recv_idx;
  int send_pt, recv_pt;
  guint32 ssrc; /* of main_video, signalled in the answer so that a BUNDLEd receiver can route it */
  char codec[8], recv_codec[8];
  GString *cands[8]; /* gathered candidates per m-line */
  guint gather_timeout;
  int frames_sent;
  gint keyframe_requests;
};

static sana_peer *peer_ref(sana_peer *p) {
  g_atomic_int_inc(&p->refs);
  return p;
}

static void peer_unref(sana_peer *p) {
  if (!g_atomic_int_dec_and_test(&p->refs)) return;
  for (size_t i = 0; i < G_N_ELEMENTS(p->cands); i++)
    if (p->cands[i]) g_string_free(p->cands[i], TRUE);
  g_free(p);
}

/* ---- main-context delivery ---- */

typedef struct {
  sana_peer *p;
  int kind; /* 0 answer, 1 message, 2 channel */
  char *text;
  char *error;
  int open;
} deliver;

static gboolean deliver_main(gpointer data) {
  deliver *d = data;
  sana_peer *p = d->p;
  if (!p->closed) {
    if (d->kind == 0 && p->ev.answer) p->ev.answer(p->ev.user, d->text, d->error);
    if (d->kind == 1 && p->ev.message) p->ev.message(p->ev.user, d->text);
    if (d->kind == 2 && p->ev.channel) p->ev.channel(p->ev.user, d->open);
  }
  peer_unref(p);
  g_free(d->text);
  g_free(d->error);
  g_free(d);
  return G_SOURCE_REMOVE;
}

static void post(sana_peer *p, int kind, const char *text, const char *error, int open) {
  deliver *d = g_new0(deliver, 1);
  d->p = peer_ref(p);
  d->kind = kind;
  d->text = g_strdup(text);
  d->error = g_strdup(error);
  d->open = open;
  g_main_context_invoke(NULL, deliver_main, d);
}

static void answer_error(sana_peer *p, const char *msg) {
  if (p->answered) return;
  p->answered = TRUE;
  SANA_LOGW("webrtc: %s", msg);
  post(p, 0, NULL, msg, 0);
}

/* ---- the answer, with our candidates inline ---- */

static gboolean finish_answer(gpointer data) {
  sana_peer *p = data;
  p->gather_timeout = 0;
  if (p->answered || p->closed) return G_SOURCE_REMOVE;
  GstWebRTCSessionDescription *desc = NULL;
  g_object_get(p->webrtc, "local-description", &desc, NULL);
  if (!desc) {
    answer_error(p, "no local description after the answer");
    return G_SOURCE_REMOVE;
  }
  /* webrtcbin may or may not have put the gathered candidates into the description; the SDK
   * never trickles, so make sure each m-line carries them. */
  GstSDPMessage *sdp = desc->sdp;
  for (guint i = 0; i < gst_sdp_message_medias_len(sdp) && i < G_N_ELEMENTS(p->cands); i++) {
    GstSDPMedia *m = (GstSDPMedia *)gst_sdp_message_get_media(sdp, i);
    gboolean has = gst_sdp_media_get_attribute_val(m, "candidate") != NULL;
    if (!has && p->cands[i]) {
      gchar **lines = g_strsplit(p->cands[i]->str, "\n", -1);
      for (int k = 0; lines[k]; k++)
        if (lines[k][0]) gst_sdp_media_add_attribute(m, "candidate", lines[k] + strlen("candidate:"));
      g_strfreev(lines);
    }
    if (!gst_sdp_media_get_attribute_val(m, "end-of-candidates")) gst_sdp_media_add_attribute(m, "end-of-candidates", "");
  }
  gchar *text = gst_sdp_message_as_text(sdp);
  gst_webrtc_session_description_free(desc);
  p->answered = TRUE;
  SANA_LOGD("webrtc: answer\n%s", text);
  post(p, 0, text, NULL, 0);
  g_free(text);
  return G_SOURCE_REMOVE;
}

static gboolean finish_answer_main(gpointer data) {
  sana_peer *p = data;
  if (!p->closed) {
    if (p->gather_timeout) g_source_remove(p->gather_timeout);
    p->gather_timeout = 0;
    finish_answer(p);
  }
  peer_unref(p);
  return G_SOURCE_REMOVE;
}

static void on_gathering(GstElement *webrtc, GParamSpec *pspec, sana_peer *p) {
  GstWebRTCICEGatheringState st;
  g_object_get(webrtc, "ice-gathering-state", &st, NULL);
  if (st == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE) g_main_context_invoke(NULL, finish_answer_main, peer_ref(p));
}

static void on_ice_candidate(GstElement *webrtc, guint mline, gchar *cand, sana_peer *p) {
  if (mline >= G_N_ELEMENTS(p->cands) || !g_str_has_prefix(cand, "candidate:")) return;
  GST_OBJECT_LOCK(webrtc);
  if (!p->cands[mline]) p->cands[mline] = g_string_new(NULL);
  g_string_append_printf(p->cands[mline], "%s\n", cand);
  GST_OBJECT_UNLOCK(webrtc);
}

static void on_answer_created(GstPromise *promise, gpointer data) {
  sana_peer *p = data;
  const GstStructure *reply = gst_promise_get_reply(promise);
  GstWebRTCSessionDescription *answer = NULL;
  if (reply) gst_structure_get(reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, NULL);
  gst_promise_unref(promise);
  if (!answer) {
    GError *e = NULL;
    if (reply) gst_structure_get(reply, "error", G_TYPE_ERROR, &e, NULL);
    char msg[256];
    snprintf(msg, sizeof msg, "cannot create an answer: %s", e ? e->message : "webrtcbin gave none");
    if (e) g_error_free(e);
    answer_error(p, msg);
    peer_unref(p);
    return;
  }
  g_signal_emit_by_name(p->webrtc, "set-local-description", answer, NULL);
  gst_webrtc_session_description_free(answer);
  peer_unref(p);
}

/* ---- data channel ---- */

static void on_dc_message(GstWebRTCDataChannel *ch, gchar *text, sana_peer *p) { post(p, 1, text, NULL, 0); }
static void on_dc_open(GstWebRTCDataChannel *ch, sana_peer *p) { post(p, 2, NULL, NULL, 1); }
static void on_dc_close(GstWebRTCDataChannel *ch, sana_peer *p) { post(p, 2, NULL, NULL, 0); }

static void on_data_channel(GstElement *webrtc, GstWebRTCDataChannel *ch, sana_peer *p) {
  gchar *label = NULL;
  GstWebRTCDataChannelState st;
  g_object_get(ch, "label", &label, "ready-state", &st, NULL);
  SANA_LOGD("webrtc: data channel '%s' opened by the client", label);
  if (label && !strcmp(label, "data") && !p->channel) {
    p->channel = g_object_ref(ch);
    g_signal_connect(ch, "on-message-string", G_CALLBACK(on_dc_message), p);
    g_signal_connect(ch, "on-open", G_CALLBACK(on_dc_open), p);
    g_signal_connect(ch, "on-close", G_CALLBACK(on_dc_close), p);
    if (st == GST_WEBRTC_DATA_CHANNEL_STATE_OPEN) post(p, 2, NULL, NULL, 1);
  }
  g_free(label);
}

/* ---- receiving the camera ---- */

static GstFlowReturn on_camera_sample(GstAppSink *sink, gpointer data) {
  sana_peer *p = data;
  GstSample *s = gst_app_sink_pull_sample(sink);
  if (!s) return GST_FLOW_OK;
  GstVideoInfo info;
  GstVideoFrame vf;
  if (gst_video_info_from_caps(&info, gst_sample_get_caps(s)) &&
      gst_video_frame_map(&vf, &info, gst_sample_get_buffer(s), GST_MAP_READ)) {
    sana_frame f = {
        .width = GST_VIDEO_FRAME_WIDTH(&vf),
        .height = GST_VIDEO_FRAME_HEIGHT(&vf),
        .stride = GST_VIDEO_FRAME_PLANE_STRIDE(&vf, 0),
        .rgb = GST_VIDEO_FRAME_PLANE_DATA(&vf, 0),
        .pts_us = (int64_t)(GST_BUFFER_PTS(gst_sample_get_buffer(s)) / 1000),
    };
    if (!p->closed && p->ev.frame) p->ev.frame(p->ev.user, &f);
    gst_video_frame_unmap(&vf);
  }
  gst_sample_unref(s);
  return GST_FLOW_OK;
}

static void on_decoded_pad(GstElement *dec, GstPad *pad, GstElement *convert) {
  GstCaps *caps = gst_pad_get_current_caps(pad);
  if (!caps) caps = gst_pad_query_caps(pad, NULL);
  gboolean video = g_str_has_prefix(gst_structure_get_name(gst_caps_get_structure(caps, 0)), "video/x-raw");
  gst_caps_unref(caps);
  if (!video) return;
  GstPad *sink = gst_element_get_static_pad(convert, "sink");
  if (!gst_pad_is_linked(sink)) gst_pad_link(pad, sink);
  gst_object_unref(sink);
}

/* Camera RTP -> decode -> rescale to the served size (a camera that changes resolution
 * mid-stream keeps arriving at one size) -> RGB -> appsink. */
static void on_incoming_pad(GstElement *webrtc, GstPad *pad, sana_peer *p) {
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) return;
  GstElement *dec = gst_element_factory_make("decodebin", NULL);
  GstElement *conv = gst_element_factory_make("videoconvert", NULL);
  GstElement *scale = gst_element_factory_make("videoscale", NULL);
  GstElement *filt = gst_element_factory_make("capsfilter", NULL);
  GstElement *sink = gst_element_factory_make("appsink", NULL);
  GstCaps *caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "RGB", "width", G_TYPE_INT,
                                      p->cfg.width, "height", G_TYPE_INT, p->cfg.height, "pixel-aspect-ratio",
                                      GST_TYPE_FRACTION, 1, 1, NULL);
  g_object_set(filt, "caps", caps, NULL);
  gst_caps_unref(caps);
  g_object_set(sink, "emit-signals", FALSE, "sync", FALSE, "max-buffers", 2, "drop", TRUE, NULL);
  GstAppSinkCallbacks cbs = {.new_sample = on_camera_sample};
  gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cbs, p, NULL);
  gst_bin_add_many(GST_BIN(p->pipe), dec, conv, scale, filt, sink, NULL);
  gst_element_link_many(conv, scale, filt, sink, NULL);
  g_signal_connect(dec, "pad-added", G_CALLBACK(on_decoded_pad), conv);
  for (GstElement *e = sink;; e = e == sink ? filt : e == filt ? scale : e == scale ? conv : dec) {
    gst_element_sync_state_with_parent(e);
    if (e == dec) break;
  }
  GstPad *dsink = gst_element_get_static_pad(dec, "sink");
  if (gst_pad_link(pad, dsink) != GST_PAD_LINK_OK) SANA_LOGW("webrtc: cannot link the camera pad");
  gst_object_unref(dsink);
  SANA_LOGD("webrtc: receiving camera");
}

static gboolean on_bus(GstBus *bus, GstMessage *msg, gpointer data) {
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR || GST_MESSAGE_TYPE(msg) == GST_MESSAGE_WARNING) {
    GError *e = NULL;
    gchar *dbg = NULL;
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) gst_message_parse_error(msg, &e, &dbg);
    else gst_message_parse_warning(msg, &e, &dbg);
    SANA_LOGW("gstreamer %s: %s (%s)", GST_OBJECT_NAME(msg->src), e->message, dbg ? dbg : "");
    g_error_free(e);
    g_free(dbg);
  }
  return G_SOURCE_CONTINUE;
}

/* ---- keyframe requests ---- */

/* The upstream force-key-unit event that the RTP session makes of a client's PLI or FIR, seen on
 * its way to the encoder: logged, so that a test (and an operator) can tell that it arrived. */
static GstPadProbeReturn on_upstream_event(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
  if (ev && gst_video_event_is_force_key_unit(ev)) {
    sana_peer *p = data;
    int n = g_atomic_int_add(&p->keyframe_requests, 1) + 1;
    SANA_LOGI("webrtc: the client asked for a keyframe (PLI/FIR, request %d): forcing one", n);
  }
  return GST_PAD_PROBE_OK;
}

/* ---- setup ---- */

static GstElement *make_send_chain(sana_peer *p, char *error, size_t es) {
  char desc[1024], enc[384];
  /* A PLI or FIR from the client reaches the encoder as an upstream force-key-unit event (the
   * RTP session of webrtcbin sends it up through the payloader), which both encoders honour. */
  int kf = p->cfg.keyframe_interval > 0 ? p->cfg.keyframe_interval : 48;
  if (!strcmp(p->codec, "H264"))
    snprintf(enc, sizeof enc,
             "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%d bitrate=2000 ! "
             "video/x-h264,profile=constrained-baseline ! rtph264pay config-interval=-1 aggregate-mode=zero-latency",
             kf);
  else
    snprintf(enc, sizeof enc,
             "vp8enc deadline=1 cpu-used=8 keyframe-max-dist=%d target-bitrate=2000000 ! rtpvp8pay picture-id-mode=15-bit",
             kf);
  snprintf(desc, sizeof desc,
           "appsrc name=src is-live=true format=time do-timestamp=true "
           "caps=video/x-raw,format=RGB,width=%d,height=%d,framerate=%d/1 ! videoconvert ! video/x-raw,format=I420 ! "
           "queue max-size-buffers=4 leaky=downstream ! %s pt=%d ssrc=%u ! "
           "capsfilter caps=\"application/x-rtp,media=video,encoding-name=%s,payload=%d,clock-rate=90000,ssrc=(uint)%u\"",
           p->cfg.width, p->cfg.height, p->cfg.fps, enc, p->send_pt, p->ssrc, p->codec, p->send_pt, p->ssrc);
  GError *e = NULL;
  GstElement *bin = gst_parse_bin_from_description(desc, TRUE, &e);
  if (!bin) {
    snprintf(error, es, "cannot build the %s sender: %s", p->codec, e ? e->message : "?");
    if (e) g_error_free(e);
  }
  return bin;
}

sana_peer *sana_peer_new(const char *offer_sdp, const char *send_mid, const char *recv_mid,
                         const sana_peer_config *cfg, const sana_peer_events *ev, char *error, size_t es) {
  GstSDPMessage *sdp = NULL;
  sana_sdp_choice ch;
  if (sana_sdp_inspect(offer_sdp, send_mid, recv_mid, cfg->codecs, &ch, &sdp, error, es)) return NULL;
  sana_peer *p = g_new0(sana_peer, 1);
  p->refs = 1;
  p->ev = *ev;
  p->cfg = *cfg;
  p->send_idx = ch.send_idx;
  p->recv_idx = ch.recv_idx;
  p->send_pt = ch.send_pt;
  p->recv_pt = ch.recv_pt;
  memcpy(p->codec, ch.send_codec, sizeof p->codec);
  memcpy(p->recv_codec, ch.recv_codec, sizeof p->recv_codec);

  p->pipe = gst_pipeline_new(NULL);
  p->webrtc = gst_element_factory_make("webrtcbin", NULL);
  if (!p->webrtc) {
    snprintf(error, es, "GStreamer webrtcbin is not installed");
    goto fail;
  }
  g_object_set(p->webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, NULL);
  gst_bin_add(GST_BIN(p->pipe), p->webrtc);
  p->ssrc = g_random_int_range(1, G_MAXINT32);
  GstElement *send = make_send_chain(p, error, es);
  if (!send) goto fail;
  gst_bin_add(GST_BIN(p->pipe), send);
  p->appsrc = gst_bin_get_by_name(GST_BIN(send), "src");
  GObject *ice = NULL;
  g_object_get(p->webrtc, "ice-agent", &ice, NULL);
  if (ice) {
    if (g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "ice-tcp")) g_object_set(ice, "ice-tcp", FALSE, NULL);
    if (cfg->ice_ip) {
      gboolean ok = FALSE;
      g_signal_emit_by_name(ice, "add-local-ip-address", cfg->ice_ip, &ok);
    }
    g_object_unref(ice);
  }
  g_signal_connect(p->webrtc, "on-ice-candidate", G_CALLBACK(on_ice_candidate), p);
  g_signal_connect(p->webrtc, "notify::ice-gathering-state", G_CALLBACK(on_gathering), p);
  g_signal_connect(p->webrtc, "on-data-channel", G_CALLBACK(on_data_channel), p);
  g_signal_connect(p->webrtc, "pad-added", G_CALLBACK(on_incoming_pad), p);
  GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(p->pipe));
  p->bus_watch = gst_bus_add_watch(bus, on_bus, p);
  gst_object_unref(bus);
  if (gst_element_set_state(p->pipe, GST_STATE_READY) == GST_STATE_CHANGE_FAILURE) {
    snprintf(error, es, "cannot start the WebRTC pipeline");
    goto fail;
  }

  /* Transceivers follow the offer's m-lines; ours sends on main_video and receives the camera,
   * each restricted to the chosen codec and the offer's payload type. */
  GstWebRTCSessionDescription *offer = gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_OFFER, sdp);
  sdp = NULL;
  GstPromise *pr = gst_promise_new();
  g_signal_emit_by_name(p->webrtc, "set-remote-description", offer, pr);
  gst_promise_wait(pr);
  const GstStructure *reply = gst_promise_get_reply(pr);
  GError *e = NULL;
  if (reply) gst_structure_get(reply, "error", G_TYPE_ERROR, &e, NULL);
  gst_promise_unref(pr);
  gst_webrtc_session_description_free(offer);
  if (e) {
    snprintf(error, es, "sdp_offer was rejected: %s", e->message);
    g_error_free(e);
    goto fail;
  }
  for (int idx = 0;; idx++) {
    GstWebRTCRTPTransceiver *t = NULL;
    g_signal_emit_by_name(p->webrtc, "get-transceiver", idx, &t);
    if (!t) break;
    guint mline = 0;
    g_object_get(t, "mlineindex", &mline, NULL);
    if ((int)mline == p->send_idx || (int)mline == p->recv_idx) {
      int is_send = (int)mline == p->send_idx;
      const char *enc = is_send ? p->codec : p->recv_codec;
      int pt = is_send ? p->send_pt : p->recv_pt;
      GstCaps *caps = gst_caps_new_simple("application/x-rtp", "media", G_TYPE_STRING, "video", "encoding-name",
                                          G_TYPE_STRING, enc, "payload", G_TYPE_INT, pt, "clock-rate", G_TYPE_INT,
                                          90000, NULL);
      if (!strcmp(enc, "H264"))
        gst_caps_set_simple(caps, "packetization-mode", G_TYPE_STRING, "1", "profile-level-id", G_TYPE_STRING, "42e01f", NULL);
      if (is_send) gst_caps_set_simple(caps, "ssrc", G_TYPE_UINT, p->ssrc, NULL);
      if (pt >= 0) g_object_set(t, "codec-preferences", caps, NULL);
      g_object_set(t, "direction",
                   is_send ? GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY : GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, NULL);
      gst_caps_unref(caps);
    }
    gst_object_unref(t);
  }
  char padname[32];
  snprintf(padname, sizeof padname, "sink_%d", p->send_idx);
  GstPad *wpad = gst_element_request_pad_simple(p->webrtc, padname);
  GstPad *spad = gst_element_get_static_pad(send, "src");
  gst_pad_add_probe(spad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, on_upstream_event, p, NULL);
  if (!wpad || gst_pad_link(spad, wpad) != GST_PAD_LINK_OK) {
    snprintf(error, es, "cannot attach main_video to m-line %d", p->send_idx);
    if (wpad) gst_object_unref(wpad);
    gst_object_unref(spad);
    goto fail;
  }
  gst_object_unref(wpad);
  gst_object_unref(spad);
  if (gst_element_set_state(p->pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    snprintf(error, es, "cannot start the WebRTC pipeline");
    goto fail;
  }
  g_signal_emit_by_name(p->webrtc, "create-answer", NULL, gst_promise_new_with_change_func(on_answer_created, peer_ref(p), NULL));
  /* Loopback gathering takes milliseconds; never hold the SDK past its ~6 s polling window. */
  p->gather_timeout = g_timeout_add(3000, finish_answer, p);
  return p;
fail:
  if (sdp) gst_sdp_message_free(sdp);
  sana_peer_free(p);
  return NULL;
}

void sana_peer_free(sana_peer *p) {
  if (!p) return;
  p->closed = TRUE;
  if (p->gather_timeout) g_source_remove(p->gather_timeout);
  if (p->bus_watch) g_source_remove(p->bus_watch);
  if (p->pipe) {
    gst_element_set_state(p->pipe, GST_STATE_NULL);
    gst_object_unref(p->pipe);
  }
  if (p->appsrc) gst_object_unref(p->appsrc);
  if (p->channel) g_object_unref(p->channel);
  peer_unref(p);
}

int sana_peer_send_text(sana_peer *p, const char *text) {
  if (!p || !p->channel) return -1;
  GstWebRTCDataChannelState st;
  g_object_get(p->channel, "ready-state", &st, NULL);
  if (st != GST_WEBRTC_DATA_CHANNEL_STATE_OPEN) return -1;
  g_signal_emit_by_name(p->channel, "send-string", text);
  return 0;
}

void sana_peer_send_frame(sana_peer *p, const sana_frame *f) {
  if (!p || !p->appsrc || f->width != p->cfg.width || f->height != p->cfg.height) return;
  size_t row = (size_t)GST_ROUND_UP_4(f->width * 3);
  GstBuffer *buf = gst_buffer_new_allocate(NULL, row * f->height, NULL);
  GstMapInfo map;
  if (!gst_buffer_map(buf, &map, GST_MAP_WRITE)) {
    gst_buffer_unref(buf);
    return;
  }
  for (int y = 0; y < f->height; y++) memcpy(map.data + row * y, f->rgb + (size_t)f->stride * y, (size_t)f->width * 3);
  gst_buffer_unmap(buf, &map);
  gst_app_src_push_buffer(GST_APP_SRC(p->appsrc), buf);
  p->frames_sent++;
}

const char *sana_peer_codec(const sana_peer *p) { return p->codec; }
