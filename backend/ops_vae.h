/* The vae model family's backend ops (see backend/backend.h for the conventions). */
#ifndef SANA_BACKEND_OPS_VAE_H
#define SANA_BACKEND_OPS_VAE_H

#include "backend/backend.h"

struct sana_vae_ops {
  int unused_; /* placeholder until the first op lands */
};

#endif
