/* Offer inspection (see sdp.h). */
#define _GNU_SOURCE
#include "server/sdp.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>



/* The payload type of `codec` in this m-line, or -1. H.264 must be constrained baseline 42e01f
 * with packetization-mode 1, which every browser offers. */
static int find_pt(const GstSDPMedia *m, const char *codec) {
  for (guint i = 0; i < gst_sdp_media_formats_len(m); i++) {
    int pt = atoi(gst_sdp_media_get_format(m, i));
    char want[32];
    snprintf(want, sizeof want, "%d ", pt);
    const char *rtpmap = NULL, *fmtp = NULL;
    for (guint a = 0; a < gst_sdp_media_attributes_len(m); a++) {
      const GstSDPAttribute *at = gst_sdp_media_get_attribute(m, a);
      if (!at->value || strncmp(at->value, want, strlen(want))) continue;
      if (!strcmp(at->key, "rtpmap")) rtpmap = at->value + strlen(want);
      if (!strcmp(at->key, "fmtp")) fmtp = at->value + strlen(want);
    }
    if (!rtpmap || strncasecmp(rtpmap, codec, strlen(codec)) || rtpmap[strlen(codec)] != '/') continue;
    if (!strcasecmp(codec, "H264")) {
      if (!fmtp || !strstr(fmtp, "packetization-mode=1")) continue;
      if (!strcasestr(fmtp, "profile-level-id=42e01f")) continue;
    }
    return pt;
  }
  return -1;
}

static int choose_codec(const GstSDPMedia *m, const char *prefs, char *codec, size_t size) {
  gchar **list = g_strsplit(prefs, ",", -1);
  int pt = -1;
  for (int i = 0; list[i] && pt < 0; i++) {
    const char *name = !g_ascii_strcasecmp(list[i], "h264") ? "H264" : !g_ascii_strcasecmp(list[i], "vp8") ? "VP8" : NULL;
    if (name && (pt = find_pt(m, name)) >= 0) snprintf(codec, size, "%s", name);
  }
  g_strfreev(list);
  return pt;
}

static int find_mid(const GstSDPMessage *sdp, const char *mid) {
  for (guint i = 0; i < gst_sdp_message_medias_len(sdp); i++) {
    const char *v = gst_sdp_media_get_attribute_val(gst_sdp_message_get_media(sdp, i), "mid");
    if (v && !strcmp(v, mid)) return (int)i;
  }
  return -1;
}

int sana_sdp_inspect(const char *offer, const char *send_mid, const char *recv_mid, const char *prefs,
                     sana_sdp_choice *out, GstSDPMessage **msg, char *error, size_t es) {
  memset(out, 0, sizeof *out);
  out->recv_idx = out->send_pt = out->recv_pt = -1;
  if (msg) *msg = NULL;
  GstSDPMessage *sdp = NULL;
  if (gst_sdp_message_new_from_text(offer, &sdp) != GST_SDP_OK || !sdp) {
    if (sdp) gst_sdp_message_free(sdp); /* allocated even when the text is rejected (found by fuzzing) */
    snprintf(error, es, "sdp_offer is not a valid SDP");
    return -1;
  }
  int rc = -1;
  if (gst_sdp_message_medias_len(sdp) == 0 || gst_sdp_message_medias_len(sdp) > 8 || !gst_sdp_message_get_version(sdp)) {
    snprintf(error, es, "sdp_offer has no usable media sections");
    goto done;
  }
  out->send_idx = find_mid(sdp, send_mid);
  out->recv_idx = recv_mid ? find_mid(sdp, recv_mid) : -1;
  if (out->send_idx < 0) {
    snprintf(error, es, "sdp_offer has no m-line with mid '%s' (main_video in track_mapping)", send_mid);
    goto done;
  }
  out->send_pt = choose_codec(gst_sdp_message_get_media(sdp, out->send_idx), prefs, out->send_codec, sizeof out->send_codec);
  if (out->send_pt < 0) {
    snprintf(error, es, "sdp_offer offers none of the codecs %s (H264 needs 42e01f, packetization-mode=1) on mid '%s'",
             prefs, send_mid);
    goto done;
  }
  if (out->recv_idx >= 0)
    out->recv_pt = choose_codec(gst_sdp_message_get_media(sdp, out->recv_idx), prefs, out->recv_codec, sizeof out->recv_codec);
  rc = 0;
done:
  if (rc == 0 && msg) *msg = sdp;
  else gst_sdp_message_free(sdp);
  return rc;
}
