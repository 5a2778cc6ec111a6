/* Leveled logging to stderr. The level comes from sana_log_set_level or SANA_LOG
 * (error|warn|info|debug). */
#ifndef SANA_CORE_LOG_H
#define SANA_CORE_LOG_H

typedef enum { SANA_LOG_ERROR, SANA_LOG_WARN, SANA_LOG_INFO, SANA_LOG_DEBUG } sana_log_level;

void sana_log_set_level(sana_log_level lvl);
int sana_log_parse_level(const char *s, sana_log_level *out); /* 0 on success */
void sana_log(sana_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define SANA_LOGE(...) sana_log(SANA_LOG_ERROR, __VA_ARGS__)
#define SANA_LOGW(...) sana_log(SANA_LOG_WARN, __VA_ARGS__)
#define SANA_LOGI(...) sana_log(SANA_LOG_INFO, __VA_ARGS__)
#define SANA_LOGD(...) sana_log(SANA_LOG_DEBUG, __VA_ARGS__)

/* Monotonic seconds, for timings. */
double sana_now(void);

#endif
