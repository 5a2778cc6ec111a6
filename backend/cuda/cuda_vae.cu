/* CUDA implementation of the vae family's ops (backend/ops_vae.h). Each op's kernel goes here
 * (or in its own cuda_vae_<op>.cu), installed below; leave an entry NULL until its kernel
 * exists and passes its op-level test (tests/backend/cases_vae.c). */
#include "backend/cuda/cuda.h"
extern "C" {
#include "backend/ops_vae.h"
}

void cuda_install_vae_ops(sana_backend *be) { (void)be; }
