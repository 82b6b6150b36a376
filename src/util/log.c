#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include "util/log.h"

static atomic_bool use_syslog;

void sm_log_open_syslog(void)
{
	/* LOG_NDELAY: connect now, while the server may still create sockets;
	 * if syslog restarts later, glibc's reconnect fails in the sandbox and
	 * messages are lost rather than the server. */
	openlog("safemount", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void sm_log_use_syslog(void)
{
	atomic_store(&use_syslog, true);
}

void sm_vlog(int priority, const char *fmt, va_list ap)
{
	if (atomic_load(&use_syslog)) {
		vsyslog(priority, fmt, ap);
		return;
	}
	/* One fprintf per message, so lines from threads do not interleave. */
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "safemount: %s\n", line);
}

void sm_log(int priority, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sm_vlog(priority, fmt, ap);
	va_end(ap);
}
