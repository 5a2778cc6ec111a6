/* Reading the client's SDP offer (untrusted): the m-lines of the mapped mids and, on each, the
 * payload type of the first codec of our preference that the offer allows. GStreamer's SDP
 * library only; fuzzed by fuzz/fuzz_server_sdp.c. */
#ifndef SANA_SERVER_SDP_H
#define SANA_SERVER_SDP_H

#include <gst/sdp/sdp.h>
#include <stddef.h>

typedef struct sana_sdp_choice {
  int send_idx, recv_idx; /* m-line indexes of main_video and camera (-1: camera not mapped) */
  int send_pt, recv_pt;   /* chosen payload types (-1: none) */
  char send_codec[8], recv_codec[8]; /* "VP8" or "H264" */
} sana_sdp_choice;

/* Returns 0 and the parsed offer in *msg (free with gst_sdp_message_free; may be NULL to
 * discard), or -1 with `error` naming the problem: not SDP, no usable media, unknown mid, none
 * of the codecs in `prefs` ("vp8,h264"; H.264 only as 42e01f with packetization-mode=1). */
int sana_sdp_inspect(const char *offer, const char *send_mid, const char *recv_mid, const char *prefs,
                     sana_sdp_choice *out, GstSDPMessage **msg, char *error, size_t error_size);

#endif
