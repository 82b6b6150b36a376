/* The image channel: libext2fs's unixfd io_manager under a bounded, hashed,
 * write-through block cache (see cache_io.c). */
#ifndef SAFEMOUNT_IO_CACHE_IO_H
#define SAFEMOUNT_IO_CACHE_IO_H

#include <ext2fs/ext2_io.h>

/* 4096 blocks: 16 MiB with 4 KiB blocks. */
#define SM_CACHE_IO_DEFAULT_BLOCKS 4096u

/* Opens the image from an fd number given as the name, like unixfd. */
extern io_manager sm_cache_io_manager;

/* Blocks to cache in channels opened from now on (0: none). */
void sm_cache_io_set_blocks(unsigned blocks);

#endif
