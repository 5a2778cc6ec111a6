/* CPU implementation of the dit family's ops (backend/ops_dit.h). */
#include "backend/cpu/cpu.h"
#include "backend/ops_dit.h"

void cpu_install_dit_ops(sana_backend *be) { (void)be; }
