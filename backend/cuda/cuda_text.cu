/* CUDA implementation of the text family's ops (backend/ops_text.h). Each op's kernel goes here
 * (or in its own cuda_text_<op>.cu), installed below; leave an entry NULL until its kernel
 * exists and passes its op-level test (tests/backend/cases_text.c). */
#include "backend/cuda/cuda.h"
extern "C" {
#include "backend/ops_text.h"
}

void cuda_install_text_ops(sana_backend *be) { (void)be; }
