/* The unit tests' TAP output: one "ok N - ..." / "not ok N - ..." line per
 * check, the plan "1..N" last (meson reads it with protocol 'tap'). */
#ifndef SAFEMOUNT_TESTS_TAP_H
#define SAFEMOUNT_TESTS_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int tap_count, tap_failed;
/* Printed as "[label] " before each description when set. */
static const char *tap_label;

__attribute__((format(printf, 2, 3)))
static void tap_check(bool ok, const char *fmt, ...)
{
	va_list ap;
	tap_count++;
	if (!ok)
		tap_failed++;
	printf("%s %d - ", ok ? "ok" : "not ok", tap_count);
	if (tap_label)
		printf("[%s] ", tap_label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Print the plan; the exit status for main(). */
static inline int tap_finish(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
