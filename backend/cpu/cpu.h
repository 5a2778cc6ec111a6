/* Internals shared by the CPU backend's files. */
#ifndef SANA_BACKEND_CPU_H
#define SANA_BACKEND_CPU_H

#include "backend/backend.h"

typedef struct cpu_impl {
  sana_error first; /* first failure since the last sync */
} cpu_impl;

/* Records a failure (the first one wins) for be->sync to report. */
void cpu_fail(sana_backend *be, const char *op, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Checks that every tensor is F32 with data; records a failure naming `op` otherwise. */
int cpu_check_f32(sana_backend *be, const char *op, int n, const sana_tensor *const *ts);
#define CPU_F32(be, op, ...)                                                                  \
  cpu_check_f32((be), (op), (int)(sizeof((const sana_tensor *const[]){__VA_ARGS__}) /         \
                                  sizeof(const sana_tensor *)),                               \
                (const sana_tensor *const[]){__VA_ARGS__})

/* Converts n elements between F32/BF16/F16 host buffers. */
void cpu_convert(void *dst, sana_dtype dd, const void *src, sana_dtype sd, int64_t n);

float cpu_act(float x, sana_act act);

void cpu_install_core_ops(sana_backend *be);
/* Each family's file (cpu_dit.c, cpu_vae.c, cpu_text.c, cpu_video.c) installs its sub-table. */
void cpu_install_dit_ops(sana_backend *be);
void cpu_install_vae_ops(sana_backend *be);
void cpu_install_text_ops(sana_backend *be);
void cpu_install_video_ops(sana_backend *be);

#endif
