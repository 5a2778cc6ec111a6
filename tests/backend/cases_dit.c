/* Op-level cases for the dit family's ops (backend/ops_dit.h). Add one bo_case per op and shape
 * (the real shapes first, then small odd ones), with an apply function that calls
 * be->dit-><op> and returns 1 when be->dit or the entry is NULL; see docs/cuda.md. */
#include "tests/backend/backend_ops.h"

static const bo_case dit_cases[] = {
    {0}, /* placeholder: C forbids an empty array; the harness skips cases without an apply */
};

const bo_family bo_dit_family = {"dit", dit_cases, 0};
