/* ext4's metadata checksums (crc32c) computed with the CPU's crc32
 * instruction instead of libext2fs's table loop.
 *
 * perf on the server during `bench/meta unlink`: 35 % of its samples in
 * libext2fs's crc32c -- every directory block read is verified and every
 * write re-summed, 4 KiB each, inodes and extent blocks too.  libext2fs
 * calls ext2fs_crc32c_le through its PLT, so the definition below, in the
 * executable, is the one its calls bind to.  It is used only when the CPU
 * has SSE4.2 and a self-test at start-up finds it equal to the library's
 * own function (found with dlsym(RTLD_NEXT)) on every length and
 * alignment tried; otherwise every call goes to the library's. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <ext2fs/ext2fs.h>
#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#include "io/crc32c.h"

typedef __u32 (*crc_fn)(__u32 crc, unsigned char const *p, size_t len);

static crc_fn lib_crc32c;
static bool use_hw;

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t hw_crc32c(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc;
	while (len && ((uintptr_t)p & 7)) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;
		memcpy(&v, p, sizeof(v));
		c = _mm_crc32_u64(c, v);
	}
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return (uint32_t)c;
}

static bool cpu_has_crc32c(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("sse4.2");
}
#else
/* Elsewhere the library's own is used (the instruction differs per
 * architecture; not measured there). */
static uint32_t hw_crc32c(uint32_t crc, const unsigned char *p, size_t len)
{
	(void)crc, (void)p, (void)len;
	return 0;
}

static bool cpu_has_crc32c(void)
{
	return false;
}
#endif

/* Only if libext2fs's own cannot be found (it always can when linked
 * dynamically): the reflected Castagnoli polynomial, bit by bit. */
static uint32_t bitwise_crc32c(uint32_t crc, const unsigned char *p, size_t len)
{
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
	}
	return crc;
}

__u32 ext2fs_crc32c_le(__u32 crc, unsigned char const *p, size_t len)
{
	if (use_hw)
		return hw_crc32c(crc, p, len);
	if (lib_crc32c)
		return lib_crc32c(crc, p, len);
	return bitwise_crc32c(crc, p, len);
}

static bool self_test(crc_fn ref)
{
	static unsigned char buf[4096 + 16];
	uint32_t x = 0x9e3779b9u;
	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (unsigned char)(x >> 16);
	}
	static const uint32_t seeds[] = { 0, ~0u, 0x12345678u };
	for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++)
		for (size_t off = 0; off < 8; off++) {
			for (size_t len = 0; len <= 72; len++)
				if (hw_crc32c(seeds[s], buf + off, len) != ref(seeds[s], buf + off, len))
					return false;
			if (hw_crc32c(seeds[s], buf + off, 4096) != ref(seeds[s], buf + off, 4096))
				return false;
		}
	return true;
}

__attribute__((constructor)) static void crc32c_init(void)
{
	void *sym = dlsym(RTLD_NEXT, "ext2fs_crc32c_le");
	lib_crc32c = (crc_fn)sym;
	if (lib_crc32c == ext2fs_crc32c_le)
		lib_crc32c = NULL;
	if (!cpu_has_crc32c())
		return;
	use_hw = self_test(lib_crc32c ? lib_crc32c : bitwise_crc32c);
}

bool sm_crc32c_accelerated(void)
{
	return use_hw;
}
