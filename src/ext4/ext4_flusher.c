/* The image channel holds metadata writes back (src/io/cache_io.c) and
 * writes them when it is next written to after they aged.  An idle mount
 * would keep them forever; this thread bounds that too, so a file created
 * and left alone is on the image within seconds, as the kernel's ext4
 * commits it within its 5 s interval.  It sleeps on fs->lock's condition
 * variable, so it holds the lock only while writing. */
#include <errno.h>
#include <time.h>

#include "ext4/ext4_private.h"
#include "io/cache_io.h"

static void *flusher_main(void *arg)
{
	struct sm_fs *f = arg;
	struct timespec at;

	EXT4_LOCK(f);
	while (!f->flusher.stop) {
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_sec += 1;   /* the check is cheap; the age decides */
		int rc = pthread_cond_timedwait(&f->flusher.wake, &f->lock, &at);
		if (rc == ETIMEDOUT && !f->flusher.stop)
			(void)sm_io_write_back_due(f->fs->io);   /* errors return at fsync */
	}
	EXT4_UNLOCK(f);
	return NULL;
}

void ext4_flusher_start(struct sm_fs *f)
{
	pthread_condattr_t ca;

	if (pthread_condattr_init(&ca) != 0)
		return;
	(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int rc = pthread_cond_init(&f->flusher.wake, &ca);
	pthread_condattr_destroy(&ca);
	if (rc != 0)
		return;
	f->flusher.stop = false;
	if (pthread_create(&f->flusher.thread, NULL, flusher_main, f) != 0) {
		/* Without it, dirty blocks still go out at the next write after
		 * they aged, at fsync and at unmount. */
		pthread_cond_destroy(&f->flusher.wake);
		return;
	}
	f->flusher.running = true;
}

void ext4_flusher_stop(struct sm_fs *f)
{
	if (!f->flusher.running)
		return;
	EXT4_LOCK(f);
	f->flusher.stop = true;
	pthread_cond_signal(&f->flusher.wake);
	EXT4_UNLOCK(f);
	pthread_join(f->flusher.thread, NULL);
	pthread_cond_destroy(&f->flusher.wake);
	f->flusher.running = false;
}
