/* The image channel's write-back cache: single-block writes wait in the
 * cache until a flush, eviction or settle; every way of reading the image
 * (a cached block, a multi-block read, the descriptor after sm_io_settle)
 * sees the newest data; writes that go around the cache (data, byte
 * writes, zero-out) never lose a newer cached copy nor leave a stale one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ext2fs/ext2fs.h>

#include "io/cache_io.h"
#include "tap.h"

#define BS 4096
#define NBLOCKS 64
#define CACHE 8

static int img_fd = -1;

static void fill(char *buf, int v)
{
	memset(buf, v, BS);
}

/* The image's own copy of block b starts with byte v (read around the
 * channel). */
static int on_image(unsigned long long b)
{
	unsigned char c = 0;
	if (pread(img_fd, &c, 1, (off_t)(b * BS)) != 1)
		return -1;
	return c;
}

static int via_channel(io_channel ch, unsigned long long b)
{
	static char buf[BS];
	if (io_channel_read_blk64(ch, b, 1, buf))
		return -1;
	return (unsigned char)buf[0];
}

static io_channel open_channel(void)
{
	char name[16];
	io_channel ch = NULL;
	/* The unixfd manager closes the descriptor it was given. */
	snprintf(name, sizeof(name), "%d", dup(img_fd));
	sm_cache_io_set_blocks(CACHE);
	if (sm_cache_io_manager->open(name, IO_FLAG_RW, &ch) || io_channel_set_blksize(ch, BS)) {
		printf("Bail out! cannot open the channel\n");
		exit(1);
	}
	return ch;
}

int main(void)
{
	char tmpl[] = "/tmp/sm-cache-io-XXXXXX";
	char buf[BS], many[4 * BS];

	img_fd = mkstemp(tmpl);
	if (img_fd < 0 || ftruncate(img_fd, (off_t)NBLOCKS * BS) != 0) {
		printf("Bail out! no temporary image\n");
		return 1;
	}
	unlink(tmpl);
	io_channel ch = open_channel();

	fill(buf, 'a');
	tap_check(io_channel_write_blk64(ch, 3, 1, buf) == 0, "a single-block write succeeds");
	tap_check(on_image(3) == 0, "it waits in the cache: the image still holds zeros");
	tap_check(via_channel(ch, 3) == 'a', "a read through the channel sees it");

	memset(many, 0, sizeof(many));
	tap_check(io_channel_read_blk64(ch, 2, 4, many) == 0 && many[0] == 0 && many[BS] == 'a' &&
			  many[2 * BS] == 0,
		  "a multi-block read over it sees the cached block in place");

	tap_check(sm_io_settle(ch, 0, NBLOCKS) == 0 && on_image(3) == 'a',
		  "sm_io_settle writes it to the image");

	fill(buf, 'b');
	io_channel_write_blk64(ch, 5, 1, buf);
	fill(buf, 'c');
	tap_check(sm_io_write_data(ch, 5, 1, buf) == 0 && on_image(5) == 'c' && via_channel(ch, 5) == 'c',
		  "a data write supersedes a dirty cached copy, on the image and in the cache");
	tap_check(io_channel_flush(ch) == 0 && on_image(5) == 'c',
		  "and a flush does not write the older copy over it");

	fill(buf, 'd');
	io_channel_write_blk64(ch, 7, 1, buf);
	memset(many, 'e', sizeof(many));
	tap_check(io_channel_write_blk64(ch, 6, 3, many) == 0 && on_image(7) == 'e' &&
			  via_channel(ch, 7) == 'e',
		  "a multi-block write supersedes a dirty cached copy");

	/* A byte write covering part of a dirty block: the rest of it must
	 * reach the image, the written bytes too. */
	fill(buf, 'f');
	io_channel_write_blk64(ch, 9, 1, buf);
	tap_check(io_channel_write_byte(ch, 9 * BS + 100, 4, "XYZW") == 0,
		  "a byte write into a dirty block succeeds");
	unsigned char head = 0, mid[4] = { 0 };
	tap_check(pread(img_fd, &head, 1, 9 * BS) == 1 && head == 'f' &&
			  pread(img_fd, mid, 4, 9 * BS + 100) == 4 && memcmp(mid, "XYZW", 4) == 0,
		  "the image holds the dirty block with the bytes written over it");
	tap_check(io_channel_read_blk64(ch, 9, 1, buf) == 0 && buf[0] == 'f' &&
			  memcmp(buf + 100, "XYZW", 4) == 0,
		  "and a read through the channel sees the same");

	fill(buf, 'g');
	io_channel_write_blk64(ch, 11, 1, buf);
	tap_check(io_channel_zeroout(ch, 11, 1) == 0 || on_image(11) != 'g',
		  "zero-out of a dirty block");
	tap_check(via_channel(ch, 11) == on_image(11), "leaves the cache and the image agreeing");

	/* More dirty blocks than the cache has slots: evictions write the
	 * victims, so nothing acknowledged is lost. */
	for (int b = 20; b < 20 + 3 * CACHE; b++) {
		fill(buf, b);
		io_channel_write_blk64(ch, (unsigned long long)b, 1, buf);
	}
	int lost = 0;
	for (int b = 20; b < 20 + 3 * CACHE; b++)
		lost += via_channel(ch, (unsigned long long)b) != b;
	tap_check(lost == 0, "after %d single-block writes into %d slots, every block reads back", 3 * CACHE, CACHE);
	io_channel_flush(ch);
	lost = 0;
	for (int b = 20; b < 20 + 3 * CACHE; b++)
		lost += on_image((unsigned long long)b) != b;
	tap_check(lost == 0, "and after a flush the image holds all of them");

	fill(buf, 'h');
	io_channel_write_blk64(ch, 40, 1, buf);
	tap_check(io_channel_close(ch) == 0 && on_image(40) == 'h', "closing the channel writes dirty blocks");

	close(img_fd);
	return tap_finish();
}
