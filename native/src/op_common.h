/* Shared helpers of the Outpost data-plane addon: big-endian loads/stores and the errno convention. */
#ifndef OP_COMMON_H
#define OP_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

/* Every function that can fail returns 0 (or a length) on success and -errno on failure, like the kernel. */

static inline uint32_t op_load_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline void op_store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void op_store_be64(uint8_t *p, uint64_t v)
{
	op_store_be32(p, (uint32_t)(v >> 32));
	op_store_be32(p + 4, (uint32_t)v);
}

static inline uint64_t op_load_be64(const uint8_t *p)
{
	return ((uint64_t)op_load_be32(p) << 32) | op_load_be32(p + 4);
}

/*
 * Moves the calling thread into the network namespace at path (a /run/netns/NAME file). Callers are short-lived
 * helper threads that exit right after, so nothing else ever runs in the namespace it enters.
 */
static inline int op_enter_netns(const char *path)
{
	int ns = open(path, O_RDONLY | O_CLOEXEC);

	if (ns < 0)
		return -errno;
	if (setns(ns, CLONE_NEWNET) < 0) {
		int err = -errno;

		close(ns);
		return err;
	}
	close(ns);
	return 0;
}

#endif
