/* CPU implementation of the vae family's ops (backend/ops_vae.h). */
#include "backend/cpu/cpu.h"
#include "backend/ops_vae.h"

void cpu_install_vae_ops(sana_backend *be) { (void)be; }
