/* The image channel: libext2fs's unixfd io_manager under a bounded, hashed,
 * write-back block cache (see cache_io.c). */
#ifndef SAFEMOUNT_IO_CACHE_IO_H
#define SAFEMOUNT_IO_CACHE_IO_H

#include <ext2fs/ext2_io.h>

/* 4096 blocks: 16 MiB with 4 KiB blocks. */
#define SM_CACHE_IO_DEFAULT_BLOCKS 4096u

/* Dirty blocks are written at the first write this long after the oldest
 * became dirty, as the kernel's ext4 commits every 5 s. */
#define SM_CACHE_IO_DIRTY_SECONDS 5

/* Opens the image from an fd number given as the name, like unixfd. */
extern io_manager sm_cache_io_manager;

/* Blocks to cache in channels opened from now on (0: none). */
void sm_cache_io_set_blocks(unsigned blocks);

/* File data: written through to the image (any cached copy updated), never
 * held dirty.  On another manager's channel, a plain write. */
errcode_t sm_io_write_data(io_channel ch, unsigned long long block, int count, const void *buf);

/* Before reading [block, block + count) from the image descriptor around
 * the channel: writes out the cached blocks there that the image lacks. */
errcode_t sm_io_settle(io_channel ch, unsigned long long block, unsigned long long count);

/* Before writing [block, block + count) around the channel: writes out the
 * dirty blocks there and forgets every cached copy. */
errcode_t sm_io_release(io_channel ch, unsigned long long block, unsigned long long count);

/* Writes the dirty blocks if the oldest is SM_CACHE_IO_DIRTY_SECONDS old
 * (or half the cache is dirty); for a caller that runs while no one
 * writes. */
errcode_t sm_io_write_back_due(io_channel ch);

#endif
