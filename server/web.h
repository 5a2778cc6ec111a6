/* Where `sana serve` finds the web app when --web is not given. */
#ifndef SANA_SERVER_WEB_H
#define SANA_SERVER_WEB_H

/* The built web app next to the running binary: <bin>/web (the build dir, where
 * `cmake --build build --target web` writes it) or <bin>/../share/sana/web (an install).
 * Returns a newly allocated directory holding index.html (g_free it), or NULL when neither
 * has one; `looked` (may be NULL) receives the places tried, for the message. */
char *sana_web_default_dir(char *looked, int looked_size);

#endif
