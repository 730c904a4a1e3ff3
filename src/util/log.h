/* Structured logging: one line per event on stderr, logfmt style:
 *   ts=2026-11-28T06:45:47.123Z level=info msg="listening" addr=0.0.0.0:8080
 * Fields are passed as a printf format producing `key=value` pairs. */
#ifndef BC_UTIL_LOG_H
#define BC_UTIL_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* The minimum level is process-wide state, like stderr itself: it is set once at start-up. */
void log_set_level(enum log_level level);
int log_parse_level(const char *s, enum log_level *out);
void log_event(enum log_level level, const char *msg, const char *fields_fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(...) log_event(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_event(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_event(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_event(LOG_ERROR, __VA_ARGS__)

#endif
