/* Reading /proc/self/mountinfo to find safemount mounts by target or source. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mount/mount.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static bool copy_field(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		return false;
	memcpy(dst, src, n + 1);
	unescape(dst);
	return true;
}

/* Parse one mountinfo line into out; false if it is malformed. */
static bool parse_line(char *line, struct sm_mount_entry *out)
{
	char *save = NULL, *tok;
	int field = 0;
	bool after_sep = false;
	int post = 0;

	memset(out, 0, sizeof(*out));
	for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save), field++) {
		if (!after_sep) {
			if (field == 4 && !copy_field(out->target, sizeof(out->target), tok))
				return false;
			if (field == 5) {
				/* per-mount flags: "ro" or "rw" first */
				out->read_only = !strncmp(tok, "ro", 2) && (tok[2] == ',' || !tok[2]);
			}
			if (field >= 6 && !strcmp(tok, "-"))
				after_sep = true;
			continue;
		}
		if (post == 0 && !copy_field(out->fstype, sizeof(out->fstype), tok))
			return false;
		if (post == 1 && !copy_field(out->source, sizeof(out->source), tok))
			return false;
		post++;
	}
	return after_sep && post >= 2;
}

/* Calls fn for each mount (the last matching one wins, as the top of a
 * stack of mounts on one target is the last listed). */
static int scan(bool (*match)(const struct sm_mount_entry *, const void *), const void *arg,
		struct sm_mount_entry *out)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	struct sm_mount_entry e;
	int found = -ENOENT;
	while (getline(&line, &cap, f) > 0) {
		if (!parse_line(line, &e))
			continue;
		if (match(&e, arg)) {
			*out = e;
			found = 0;
		}
	}
	free(line);
	fclose(f);
	return found;
}

static bool match_target(const struct sm_mount_entry *e, const void *arg)
{
	return !strcmp(e->target, (const char *)arg);
}

static bool match_source(const struct sm_mount_entry *e, const void *arg)
{
	return !strcmp(e->fstype, SM_FSTYPE) && !strcmp(e->source, (const char *)arg);
}

int sm_find_mount_by_target(const char *target, struct sm_mount_entry *out)
{
	int ret = scan(match_target, target, out);
	if (ret)
		return ret;
	return strcmp(out->fstype, SM_FSTYPE) ? -EINVAL : 0;
}

bool sm_find_mount_by_source(const char *source, struct sm_mount_entry *out)
{
	return scan(match_source, source, out) == 0;
}
