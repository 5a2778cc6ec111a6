/* The dit model family's backend ops (see backend/backend.h for the conventions). */
#ifndef SANA_BACKEND_OPS_DIT_H
#define SANA_BACKEND_OPS_DIT_H

#include "backend/backend.h"

struct sana_dit_ops {
  int unused_; /* placeholder until the first op lands */
};

#endif
