/* Command-line parsing.  The contract (`safemount [-o OPTS] IMAGE DIR`,
 * `safemount -u DIR`) is relied on by scripts and by mount.fuse3, which calls
 * us as `safemount IMAGE DIR -o OPTS`: options may follow the operands. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"

void sm_print_usage(void)
{
	printf("Usage: safemount [-f] [-d] [-o OPTIONS] IMAGE MOUNTPOINT\n"
	       "       safemount -u MOUNTPOINT\n"
	       "\n"
	       "Mount an ext2/ext3/ext4 image or block device without the kernel parsing it:\n"
	       "a FUSE server in userspace reads and writes the filesystem.\n"
	       "\n"
	       "  -o ro            mount read-only (the image is never written)\n"
	       "  -o rw            mount read-write (default when the image is writable)\n"
	       "  -o allow_other   let users other than the mounter access the files\n"
	       "  -o fsname=NAME   the source shown in /proc/mounts (default: the image path)\n"
	       "  -o noatime|relatime|strictatime   access-time updates (default relatime)\n"
	       "  -o noexec        do not allow execution of programs on the mount\n"
	       "  -o symfollow     follow symlinks on the mount in path lookups (default:\n"
	       "                   nosymfollow, so a crafted link cannot steer a privileged\n"
	       "                   program that walks the tree; readlink still works)\n"
	       "  -o uid=N,gid=N   show every file as owned by N (a normal user's mount\n"
	       "                   always shows their own ids)\n"
	       "  -o memlimit=SIZE the server's address-space cap, e.g. 512M, 2G; 0 = none\n"
	       "                   (default 1G)\n"
	       "  -o cache=SIZE    the server's metadata block cache, e.g. 64M; 0 = none\n"
	       "                   (default 16M; at most a quarter of memlimit)\n"
	       "  -f               stay in the foreground\n"
	       "  -d               debug: log every FUSE request (implies -f)\n"
	       "  -u MOUNTPOINT    unmount; returns once the image is written back\n"
	       "  -h, --help       this help\n"
	       "  -V, --version    print the version\n"
	       "\n"
	       "Mounts are always nosuid and nodev; the server runs sandboxed (see\n"
	       "safemount(8), SECURITY).  Generic mount(8) options (defaults,\n"
	       "auto, noauto, user, nouser, exec, dev, suid, x-*, ...) are accepted.\n");
}

/* Options mount(8) and fstab pass that need nothing from us, or whose safe
 * meaning is already enforced (nosuid, nodev are always on). */
static const char *const accepted_options[] = {
	"defaults", "auto", "noauto", "user", "nouser", "users", "owner", "group",
	"nofail", "_netdev", "exec", "nosuid", "nodev", "async", "nodiratime",
	"diratime", "lazytime", "nolazytime", "default_permissions", "loud", "silent",
	NULL,
};

/* A decimal id; -1 on junk or overflow. */
static int parse_id(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || errno || v >= UINT32_MAX || *s == '-')
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* SIZE with an optional K/M/G/T suffix (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || errno || *s == '-')
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int set_option(struct sm_options *o, const char *opt)
{
	if (!*opt)
		return 0;
	if (!strcmp(opt, "ro")) {
		o->ro = true;
		o->rw = false;
	} else if (!strcmp(opt, "rw")) {
		o->rw = true;
		o->ro = false;
	} else if (!strcmp(opt, "allow_other")) {
		o->allow_other = true;
	} else if (!strcmp(opt, "noexec")) {
		o->noexec = true;
	} else if (!strcmp(opt, "noatime")) {
		o->atime = SM_ATIME_NOATIME;
	} else if (!strcmp(opt, "relatime") || !strcmp(opt, "atime") ||
		   !strcmp(opt, "norelatime") || !strcmp(opt, "nostrictatime")) {
		o->atime = SM_ATIME_RELATIME;
	} else if (!strcmp(opt, "strictatime")) {
		o->atime = SM_ATIME_STRICT;
	} else if (!strncmp(opt, "fsname=", 7)) {
		if (!opt[7] || strchr(opt + 7, ',')) {
			fprintf(stderr, "safemount: option 'fsname=' needs a name\n");
			return -1;
		}
		free(o->fsname);
		o->fsname = strdup(opt + 7);
		if (!o->fsname)
			return -1;
	} else if (!strcmp(opt, "symfollow")) {
		o->symfollow = true;
	} else if (!strcmp(opt, "nosymfollow")) {
		o->symfollow = false;
	} else if (!strncmp(opt, "uid=", 4) || !strncmp(opt, "gid=", 4)) {
		bool is_uid = opt[0] == 'u';
		if (parse_id(opt + 4, is_uid ? &o->uid : &o->gid)) {
			fprintf(stderr, "safemount: option '%s' needs a numeric id\n", opt);
			return -1;
		}
		if (is_uid)
			o->set_uid = true;
		else
			o->set_gid = true;
	} else if (!strncmp(opt, "cache=", 6)) {
		uint64_t v;
		if (parse_size(opt + 6, &v) || v > (4ULL << 30)) {
			fprintf(stderr, "safemount: option '%s' needs a size up to 4G, e.g. cache=64M (0 for none)\n", opt);
			return -1;
		}
		o->cache = v;
	} else if (!strncmp(opt, "memlimit=", 9)) {
		uint64_t v;
		if (parse_size(opt + 9, &v) || (v && v < (64u << 20))) {
			fprintf(stderr, "safemount: option '%s' needs a size of at least 64M (or 0 for no limit), e.g. memlimit=2G\n", opt);
			return -1;
		}
		o->memlimit = v;
	} else if (!strcmp(opt, "suid") || !strcmp(opt, "dev")) {
		/* Accepted and ignored: an untrusted image never gets them, and
		 * mount.fuse3 adds both to every mount, so no note either. */
	} else if (!strncmp(opt, "x-", 2) || !strncmp(opt, "comment=", 8)) {
		/* userspace-only fstab annotations (systemd, udisks) */
	} else {
		for (const char *const *a = accepted_options; *a; a++)
			if (!strcmp(opt, *a))
				return 0;
		fprintf(stderr, "safemount: unknown mount option '%s'; see 'safemount --help'\n", opt);
		return -1;
	}
	return 0;
}

static int parse_o(struct sm_options *o, const char *arg)
{
	char *copy = strdup(arg), *save = NULL;
	int ret = 0;
	if (!copy)
		return -1;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		ret = set_option(o, tok);
		if (ret)
			break;
	}
	free(copy);
	return ret;
}

int sm_parse_args(int argc, char **argv, struct sm_options *o)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool unmount = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->mode = SM_MODE_MOUNT;
	o->atime = SM_ATIME_RELATIME;
	o->memlimit = SM_DEFAULT_MEMLIMIT;
	o->cache = SM_DEFAULT_CACHE;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+o:fduhVsn", longopts, NULL)) != -1 || optind < argc) {
		if (c == -1) {
			/* An operand: keep it and go on scanning, so options
			 * may follow the operands as mount.fuse3 passes them. */
			const char *arg = argv[optind++];
			if (!o->image && !unmount)
				o->image = arg;
			else if (!o->mountpoint)
				o->mountpoint = arg;
			else {
				fprintf(stderr, "safemount: too many arguments ('%s'); see 'safemount --help'\n", arg);
				return SM_EXIT_USAGE;
			}
			continue;
		}
		switch (c) {
		case 'o':
			if (parse_o(o, optarg))
				return SM_EXIT_USAGE;
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'd':
			o->debug = true;
			o->foreground = true;
			break;
		case 'u':
			unmount = true;
			if (o->image && !o->mountpoint) {
				o->mountpoint = o->image;
				o->image = NULL;
			}
			break;
		case 's':   /* single-threaded / sloppy: options mount.fuse3 may pass */
		case 'n':   /* mount(8) -n: do not write mtab (there is none) */
			break;
		case 'h':
			o->mode = SM_MODE_HELP;
			return 0;
		case 'V':
			o->mode = SM_MODE_VERSION;
			return 0;
		default:
			if (optopt == 'o')
				fprintf(stderr, "safemount: option -o needs an argument; see 'safemount --help'\n");
			else
				fprintf(stderr, "safemount: unknown option '%s'; see 'safemount --help'\n",
					argv[optind - 1]);
			return SM_EXIT_USAGE;
		}
	}
	if (unmount) {
		o->mode = SM_MODE_UNMOUNT;
		if (o->image || !o->mountpoint) {
			fprintf(stderr, "safemount: -u takes exactly one MOUNTPOINT; see 'safemount --help'\n");
			return SM_EXIT_USAGE;
		}
		return 0;
	}
	if (!o->image || !o->mountpoint) {
		fprintf(stderr, "safemount: missing %s; usage: safemount [-o OPTIONS] IMAGE MOUNTPOINT\n",
			o->image ? "MOUNTPOINT" : "IMAGE and MOUNTPOINT");
		return SM_EXIT_USAGE;
	}
	return 0;
}

void sm_options_free(struct sm_options *o)
{
	free(o->fsname);
	o->fsname = NULL;
}
