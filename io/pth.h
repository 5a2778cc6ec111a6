/* PyTorch .pth checkpoints as torch.save writes them since 1.6: a zip archive holding
 * `<archive>/data.pkl` (the pickled object), `<archive>/data/<key>` (raw little-endian storages),
 * `<archive>/byteorder`, `version` and, from torch 2.x, `.data/...` records.
 *
 * The loader takes upstream's normalize_state_dict route (inference_sana_streaming.py): descend
 * into "generator" when present; then into "state_dict" when present, else treat the dict as
 * the state dict and drop a leading "model." and then a leading "module." from every key. Only
 * tensors of that dict come out; other values (epoch counters, optimizer state) are ignored. */
#ifndef SANA_IO_PTH_H
#define SANA_IO_PTH_H

#include "io/safetensors.h"

/* Receives a malloced buffer that backs a tensor about to be pushed (views that are not
 * contiguous in the file are copied); the receiver frees it when done with the tensors. */
typedef void (*sana_pth_own_fn)(void *ctx, void *malloced);

/* Parses a memory image of a whole .pth and calls push for each state-dict tensor. Tensors that
 * are contiguous and aligned in the file point into the image. Used by the checkpoint loader and
 * the fuzz target. */
sana_status sana_pth_parse(const void *image, size_t len, const char *label, sana_st_push_fn push,
                           sana_pth_own_fn own, void *ctx, sana_error *err);

#endif
