/* Decoding an uploaded clip to RGB frames at the served size (GStreamer decodebin), for file
 * mode. Runs synchronously on the caller's thread. */
#ifndef SANA_SERVER_MEDIA_H
#define SANA_SERVER_MEDIA_H

#include <stddef.h>

#include "stream/stream.h"

typedef struct sana_media_info {
  int width, height; /* of the source */
  int num_frames;
  double fps;
} sana_media_info;

/* Calls fn for each frame (borrowed) until it returns 0 or the clip ends. fn may be NULL to
 * only count frames. Returns 0, or -1 with `error` naming the problem (not a video, ...). */
int sana_media_decode(const char *path, int width, int height, int (*fn)(void *user, const sana_frame *f),
                      void *user, sana_media_info *info, char *error, size_t error_size);

#endif
