/* ext4's checksums through our ext2fs_crc32c_le (src/io/crc32c.c) equal
 * libext2fs's own function and a bit-by-bit reference on every length and
 * alignment, and the calls libext2fs makes internally reach it: a
 * superblock checksum computed by the library matches one computed here. */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ext2fs/ext2fs.h>

#include "io/crc32c.h"
#include "tap.h"

typedef __u32 (*crc_fn)(__u32, unsigned char const *, size_t);

static uint32_t reference(uint32_t crc, const unsigned char *p, size_t len)
{
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
	}
	return crc;
}

int main(void)
{
	static unsigned char buf[65536 + 16];
	srand(7);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)rand();

	printf("# hardware crc32c: %s\n", sm_crc32c_accelerated() ? "on" : "off (no SSE4.2, or self-test failed)");
	crc_fn lib = (crc_fn)dlsym(RTLD_NEXT, "ext2fs_crc32c_le");
	tap_check(lib != NULL && lib != ext2fs_crc32c_le,
		  "libext2fs's own ext2fs_crc32c_le is found beside ours");

	int bad_ref = 0, bad_lib = 0, n = 0;
	static const uint32_t seeds[] = { 0, ~0u, 0xdeadbeefu };
	for (size_t s = 0; s < 3; s++)
		for (size_t off = 0; off < 16; off++)
			for (size_t len = 0; len < 300; len += 1 + len / 16, n++) {
				uint32_t ours = ext2fs_crc32c_le(seeds[s], buf + off, len);
				bad_ref += ours != reference(seeds[s], buf + off, len);
				if (lib)
					bad_lib += ours != lib(seeds[s], buf + off, len);
			}
	tap_check(bad_ref == 0, "%d short lengths x alignments x seeds: equal to the bitwise reference (%d differ)", n, bad_ref);
	tap_check(lib && bad_lib == 0, "and to libext2fs's function (%d differ)", bad_lib);
	tap_check(ext2fs_crc32c_le(~0u, buf + 3, 65536) == reference(~0u, buf + 3, 65536),
		  "a 64 KiB buffer at an odd address");

	/* libext2fs calls the function through its PLT: those calls bind to
	 * the first definition in the global scope, which must be ours (the
	 * executable exports it). */
	tap_check(dlsym(RTLD_DEFAULT, "ext2fs_crc32c_le") == (void *)ext2fs_crc32c_le,
		  "the global definition libext2fs's calls bind to is ours");

	/* And the library's own checksums, computed through it, are right. */
	struct ext2_super_block sb;
	memset(&sb, 0, sizeof(sb));
	sb.s_magic = EXT2_SUPER_MAGIC;
	sb.s_feature_ro_compat = EXT4_FEATURE_RO_COMPAT_METADATA_CSUM;
	sb.s_checksum_type = EXT2_CRC32C_CHKSUM;
	memcpy(&sb.s_uuid, buf, sizeof(sb.s_uuid));
	struct struct_ext2_filsys fsys;
	memset(&fsys, 0, sizeof(fsys));
	fsys.super = &sb;
	ext2fs_superblock_csum_set(&fsys, &sb);
	__u32 want = reference(~0u, (const unsigned char *)&sb, offsetof(struct ext2_super_block, s_checksum));
	tap_check(sb.s_checksum == want, "a superblock checksum set by libext2fs equals the reference (0x%08x, 0x%08x)",
		  sb.s_checksum, want);
	return tap_finish();
}
