/* libext2fs's crc32c, replaced by the CPU's instruction where it has one
 * (see crc32c.c). */
#ifndef SAFEMOUNT_IO_CRC32C_H
#define SAFEMOUNT_IO_CRC32C_H

#include <stdbool.h>

/* Are ext4's checksums computed with SSE4.2 (self-tested at start-up)? */
bool sm_crc32c_accelerated(void);

#endif
