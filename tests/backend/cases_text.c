/* Op-level cases for the text family's ops (backend/ops_text.h). Add one bo_case per op and shape
 * (the real shapes first, then small odd ones), with an apply function that calls
 * be->text-><op> and returns 1 when be->text or the entry is NULL; see docs/cuda.md. */
#include "tests/backend/backend_ops.h"

static const bo_case text_cases[] = {
    {0}, /* placeholder: C forbids an empty array; the harness skips cases without an apply */
};

const bo_family bo_text_family = {"text", text_cases, 0};
