/* Internals shared by model/vae*.c: the layer list built from the config, the stream state,
 * and the building blocks (causal conv with cache, resnet, down/upsampler). */
#ifndef SANA_MODEL_VAE_INTERNAL_H
#define SANA_MODEL_VAE_INTERNAL_H

#include "model/vae.h"

#define VAE_RMS_EPS 1e-8f

/* One LTX2VideoCausalConv3d: `<name>.conv.weight` [cout, cin, 3, 3, 3] and `.conv.bias`. */
typedef struct vae_conv {
  sana_tensor w, b;
  int cin, cout;
  int slot; /* index of its cache in a stream */
} vae_conv;

typedef enum vae_kind { VAE_CONV_IN, VAE_RESNET, VAE_DOWN, VAE_UP, VAE_CONV_OUT } vae_kind;

typedef struct vae_layer {
  vae_kind kind;
  char name[64];   /* the state_dict prefix, e.g. encoder.down_blocks.1.resnets.3 */
  vae_conv c1, c2; /* resnet: conv1, conv2; others: c1 only */
  int ch, out;     /* input and output channels */
  int st[3];       /* down/upsampler strides (t, h, w) */
  int group;       /* downsampler: channels averaged into one residual channel */
  int residual;    /* upsampler: add the shuffled, tiled input */
  int uf;          /* upsampler: upsample_factor */
  int slot;        /* grouping (down) or trim (up) state index in a stream */
} vae_layer;

struct sana_vae {
  sana_backend *be;
  const struct sana_vae_ops *ops;
  sana_vae_config cfg;
  vae_layer *enc, *dec;
  int n_enc, n_dec;
  int n_conv_slots, n_state_slots;
  float *latents_mean, *latents_std; /* host, [latent_channels] */
};

struct sana_vae_stream {
  sana_vae *v;
  sana_tensor *cache; /* per conv slot: the last 2 padded input frames [2, C, H, W] */
  int *cached;
  sana_tensor *pending; /* per state slot: frames not yet forming a temporal group */
  int *n_pending;
  int *flag;        /* per state slot: downsampler prefixed / upsampler trim applied */
  sana_tensor tail; /* prepend decode: the previous chunk's last latent, un-normalised */
  int chunks;       /* chunks decoded so far */
};

/* An activation [T, C, H, W] in backend memory (act dtype); free with vae_drop. */
sana_status vae_act(sana_vae *v, sana_tensor *t, int64_t T, int64_t C, int64_t H, int64_t W, sana_error *err);
void vae_drop(sana_vae *v, sana_tensor *t);

/* Runs the layers [from, to) of `layers` on x (consumed: replaced by the output). causal picks
 * left-only temporal padding (with s: from the caches); s = NULL runs without state. */
sana_status vae_run_layers(sana_vae *v, sana_vae_stream *s, const vae_layer *layers, int n, int causal,
                           sana_pad_mode pad, sana_tensor *x, sana_error *err);

/* The decoder on un-normalised frame-major latents z [T, L, h, w] -> frames [T', 3, H, W]. */
sana_status vae_decoder_run(sana_vae *v, sana_vae_stream *s, int causal, const sana_tensor *z, sana_tensor *out,
                            sana_error *err);

#endif
