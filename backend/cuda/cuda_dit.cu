/* CUDA implementation of the dit family's ops (backend/ops_dit.h). Each op's kernel goes here
 * (or in its own cuda_dit_<op>.cu), installed below; leave an entry NULL until its kernel
 * exists and passes its op-level test (tests/backend/cases_dit.c). */
#include "backend/cuda/cuda.h"
extern "C" {
#include "backend/ops_dit.h"
}

void cuda_install_dit_ops(sana_backend *be) { (void)be; }
