/* Op-level cases for the vae family's ops (backend/ops_vae.h). Add one bo_case per op and shape
 * (the real shapes first, then small odd ones), with an apply function that calls
 * be->vae-><op> and returns 1 when be->vae or the entry is NULL; see docs/cuda.md. */
#include "tests/backend/backend_ops.h"

static const bo_case vae_cases[] = {
    {0}, /* placeholder: C forbids an empty array; the harness skips cases without an apply */
};

const bo_family bo_vae_family = {"vae", vae_cases, 0};
