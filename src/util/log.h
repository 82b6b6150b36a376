/* Messages of the running server: to stderr while a terminal waits for the
 * mount, to syslog once the server has detached (its stderr is /dev/null
 * then, and a corrupt image must still be reported somewhere). */
#ifndef SAFEMOUNT_LOG_H
#define SAFEMOUNT_LOG_H

#include <stdarg.h>
#include <syslog.h>

/* Connect to syslog (LOG_DAEMON, as "safemount"), before the sandbox. */
void sm_log_open_syslog(void);
/* From now on, messages go to syslog. */
void sm_log_use_syslog(void);
void sm_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sm_vlog(int priority, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
