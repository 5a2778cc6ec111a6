/* One WebRTC peer of a session, on GStreamer webrtcbin: answers the client's offer with the
 * candidates inline (no trickle), receives the `camera` mid as RGB frames at the served size,
 * sends `main_video` from RGB frames, and carries the client-opened `data` channel.
 * Every event but `frame` is delivered on the GLib main context. */
#ifndef SANA_SERVER_PEER_H
#define SANA_SERVER_PEER_H

#include <stddef.h>

#include "stream/stream.h"

typedef struct sana_peer sana_peer;

typedef struct sana_peer_events {
  void *user;
  void (*answer)(void *user, const char *sdp, const char *error); /* exactly once */
  void (*message)(void *user, const char *text);
  void (*channel)(void *user, int open);
  /* A decoded camera frame at the served size (streaming thread; the frame is only borrowed). */
  void (*frame)(void *user, const sana_frame *f);
} sana_peer_events;

typedef struct sana_peer_config {
  int width, height, fps;   /* the sent (and received, after rescaling) resolution */
  int keyframe_interval;    /* frames between unrequested keyframes (PLI/FIR force one at once) */
  const char *codecs;       /* preference, e.g. "vp8,h264" */
  const char *ice_ip;       /* gather candidates on this address only (NULL: all) */
} sana_peer_config;

/* Validates the offer and the mids, then negotiates in the background. Returns NULL with
 * `error` filled when the offer cannot be answered (garbage SDP, unknown mid, no codec). */
sana_peer *sana_peer_new(const char *offer_sdp, const char *send_mid, const char *recv_mid,
                         const sana_peer_config *cfg, const sana_peer_events *ev, char *error, size_t error_size);
void sana_peer_free(sana_peer *p);

int sana_peer_send_text(sana_peer *p, const char *text);
/* Queues one frame on main_video (copied; must be the served size). */
void sana_peer_send_frame(sana_peer *p, const sana_frame *f);
const char *sana_peer_codec(const sana_peer *p);

#endif
