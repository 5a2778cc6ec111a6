/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. */
#ifndef SANA_CORE_UTF8_H
#define SANA_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the character at s (len bytes available). Returns its byte length (1-4) and sets
 * *cp, or returns 0 when the bytes are not valid UTF-8. */
int sana_utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Writes cp (<= U+10FFFF, not a surrogate) to out (4 bytes room); returns the byte count. */
int sana_utf8_encode(uint32_t cp, char *out);

/* Offset of the first invalid byte, or len when the whole buffer is valid. */
size_t sana_utf8_check(const char *s, size_t len);

#endif
