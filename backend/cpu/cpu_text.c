/* CPU implementation of the text family's ops (backend/ops_text.h). */
#include "backend/cpu/cpu.h"
#include "backend/ops_text.h"

void cpu_install_text_ops(sana_backend *be) { (void)be; }
