/* The text model family's backend ops (see backend/backend.h for the conventions). */
#ifndef SANA_BACKEND_OPS_TEXT_H
#define SANA_BACKEND_OPS_TEXT_H

#include "backend/backend.h"

struct sana_text_ops {
  int unused_; /* placeholder until the first op lands */
};

#endif
