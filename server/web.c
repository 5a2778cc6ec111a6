/* The default location of the web app (see web.h). */
#include "server/web.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

char *sana_web_default_dir(char *looked, int looked_size) {
  if (looked && looked_size > 0) looked[0] = 0;
  /* Relative to the binary, not the working directory: `build/sana serve` run from anywhere
   * finds build/web. */
  char *exe = g_file_read_link("/proc/self/exe", NULL);
  if (!exe) return NULL;
  char *bin = g_path_get_dirname(exe);
  g_free(exe);
  char *candidates[2] = {g_build_filename(bin, "web", NULL), g_build_filename(bin, "..", "share", "sana", "web", NULL)};
  g_free(bin);
  char *found = NULL;
  for (int i = 0; i < 2; i++) {
    char *index = g_build_filename(candidates[i], "index.html", NULL);
    if (!found && g_file_test(index, G_FILE_TEST_IS_REGULAR)) found = g_strdup(candidates[i]);
    else if (!found && looked && looked_size > 0) {
      size_t n = strlen(looked);
      snprintf(looked + n, (size_t)looked_size - n, "%s%s", n ? ", " : "", candidates[i]);
    }
    g_free(index);
    g_free(candidates[i]);
  }
  return found;
}
