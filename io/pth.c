/* PyTorch .pth loader: to be written (issue 2). */
#include "io/checkpoint.h"

sana_status sana_ckpt_add_pth(sana_ckpt *c, const char *path, sana_error *err) {
  return sana_err(err, SANA_ERR_UNSUPPORTED, "%s: .pth checkpoints are not supported yet", path);
}
