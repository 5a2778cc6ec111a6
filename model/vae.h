/* The LTX-2 video VAE (model-spec §3.2, §3.6, §7): loading the diffusers layout unchanged
 * (vae/config.json + diffusion_pytorch_model.safetensors), the causal streaming encoder and
 * the decoder in three schedules. Written against the backend op table (backend/ops_vae.h).
 *
 * Tensors at this API are in PyTorch order without the batch dimension, in backend memory,
 * act dtype: video [3, T, H, W] in [-1, 1], latents [L, T', H/32, W/32] *normalised*
 * (z_n = (z − latents_mean)·scaling_factor / latents_std, what the DiT sees). Outputs are
 * allocated here (be->alloc); the caller frees their data with be->free. */
#ifndef SANA_MODEL_VAE_H
#define SANA_MODEL_VAE_H

#include "backend/backend.h"
#include "backend/ops_vae.h"
#include "core/error.h"

#define SANA_VAE_MAX_BLOCKS 8

/* The fields of config.json that shape the network (docs/vae.md). */
typedef struct sana_vae_config {
  int in_channels, out_channels, latent_channels;
  int patch_size, patch_size_t;
  int n_down; /* len(block_out_channels) */
  int block_out_channels[SANA_VAE_MAX_BLOCKS];
  int layers_per_block[SANA_VAE_MAX_BLOCKS + 1]; /* n_down + 1: the last is the mid block */
  int spatio_temporal_scaling[SANA_VAE_MAX_BLOCKS];
  int downsample_stride[SANA_VAE_MAX_BLOCKS][3]; /* from downsample_type */
  int n_up; /* len(decoder_block_out_channels) */
  int decoder_block_out_channels[SANA_VAE_MAX_BLOCKS];
  int decoder_layers_per_block[SANA_VAE_MAX_BLOCKS + 1];
  int upsample_residual[SANA_VAE_MAX_BLOCKS];
  int upsample_factor[SANA_VAE_MAX_BLOCKS];
  int encoder_causal, decoder_causal;
  sana_pad_mode encoder_pad, decoder_pad;
  float scaling_factor;
  /* Read from the config, never derived from the block list: for LTX-2 the formula
   * patch·2^blocks gives 64/16, not the real 32/8 (model-spec §9). */
  int spatial_compression_ratio, temporal_compression_ratio;
} sana_vae_config;

/* Parses config.json text; errors name `label` and the field. */
sana_status sana_vae_config_parse(sana_vae_config *cfg, const char *json, const char *label, sana_error *err);

typedef struct sana_vae sana_vae;

/* Loads DIR/config.json and DIR/diffusion_pytorch_model.safetensors: every conv by key with
 * its shape checked, latents_mean/latents_std; an unexpected extra tensor is an error too. */
sana_status sana_vae_load(sana_vae **out, sana_backend *be, const char *dir, sana_error *err);
void sana_vae_free(sana_vae *v);
const sana_vae_config *sana_vae_get_config(const sana_vae *v);

/* Per-stream state: conv caches (allocated at the first call, reused, freed with the stream),
 * downsampler grouping state, upsampler trim state, the previous latent for `prepend`. One
 * stream serves one encoder or one decoder run; frame size must stay the same. */
typedef struct sana_vae_stream sana_vae_stream;
sana_status sana_vae_stream_new(sana_vae_stream **out, sana_vae *v, sana_error *err);
void sana_vae_stream_free(sana_vae_stream *s);
/* Bytes held by the stream's caches now. */
size_t sana_vae_stream_bytes(const sana_vae_stream *s);

/* Causal encode. s = NULL: one whole clip; otherwise the next chunk of a stream (33 frames then
 * 24 at a time give the latents of a whole-clip encode; other sizes work too: frames not yet
 * forming a temporal group wait in the stream). latents gets [L, T', h, w]. */
sana_status sana_vae_encode(sana_vae *v, sana_vae_stream *s, const sana_tensor *video, sana_tensor *latents,
                            sana_error *err);

/* Encodes a whole video [3, T, H, W] through one stream in chunks of sizes[0..n) frames (they
 * must add up to T) and concatenates the latents; cache_bytes (may be NULL) gets the stream's
 * cache size at the end. */
sana_status sana_vae_encode_chunked(sana_vae *v, const sana_tensor *video, const int *sizes, int n,
                                    sana_tensor *latents, size_t *cache_bytes, sana_error *err);

typedef enum sana_vae_decode_mode {
  SANA_VAE_DECODE_TILE,    /* upstream decode_chunk_tile: offline, ~3 latents of look-ahead */
  SANA_VAE_DECODE_CAUSAL,  /* causal decoder with caches, one latent per call */
  SANA_VAE_DECODE_PREPEND, /* non-causal decoder, previous latent as left context */
} sana_vae_decode_mode;

/* Parses "tile" | "causal" | "prepend"; -1 otherwise. */
int sana_vae_decode_mode_parse(const char *s);

/* Decodes a whole latent clip [L, T, h, w] -> video [3, (T−1)·8 + 1, 32h, 32w] with one of the
 * schedules (causal and prepend feed the latents one at a time through a stream). */
sana_status sana_vae_decode(sana_vae *v, sana_vae_decode_mode mode, const sana_tensor *latents, sana_tensor *video,
                            sana_error *err);

/* Streaming decode of the next latent chunk [L, n, h, w] (mode causal or prepend): the first
 * chunk gives (n−1)·8 + 1 frames, later ones n·8. */
sana_status sana_vae_decode_chunk(sana_vae *v, sana_vae_stream *s, sana_vae_decode_mode mode,
                                  const sana_tensor *latents, sana_tensor *video, sana_error *err);

#endif
