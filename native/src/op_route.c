/*
 * Longest-prefix match from the inner destination to (outbound SPI, peer endpoint), the userspace stand-in for
 * the kernel's route + XFRM policy lookup (RFC 4301 §5.1 outbound processing). A sorted array scanned
 * linearly: gateways carry tens to a few thousand prefixes; a trie can replace it behind the same calls.
 */
#include "op_route.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

static void mask(uint8_t *a, size_t alen, uint8_t plen)
{
	for (size_t i = 0; i < alen; i++) {
		size_t bit = i * 8;
		if (bit >= plen)
			a[i] = 0;
		else if (bit + 8 > plen)
			a[i] &= (uint8_t)(0xff << (8 - (plen - bit)));
	}
}

static bool covers(const struct op_route *rt, const uint8_t *dst)
{
	uint8_t d[16];
	size_t alen = rt->family == 4 ? 4 : 16;

	memcpy(d, dst, alen);
	mask(d, alen, rt->plen);
	return memcmp(d, rt->prefix, alen) == 0;
}

int op_routes_init(struct op_routes *r)
{
	memset(r, 0, sizeof(*r));
	return -pthread_rwlock_init(&r->lock, NULL);
}

void op_routes_free(struct op_routes *r)
{
	free(r->v);
	r->v = NULL;
	r->n = r->cap = 0;
	pthread_rwlock_destroy(&r->lock);
}

static ssize_t find(struct op_routes *r, uint8_t family, const uint8_t *prefix, uint8_t plen)
{
	size_t alen = family == 4 ? 4 : 16;

	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].family == family && r->v[i].plen == plen && memcmp(r->v[i].prefix, prefix, alen) == 0)
			return (ssize_t)i;
	return -1;
}

int op_routes_add(struct op_routes *r, const struct op_route *route)
{
	struct op_route rt = *route;
	size_t alen;
	ssize_t at;
	size_t pos;

	if ((rt.family != 4 && rt.family != 6) || rt.plen > (rt.family == 4 ? 32 : 128))
		return -EINVAL;
	alen = rt.family == 4 ? 4 : 16;
	memset(rt.prefix + alen, 0, sizeof(rt.prefix) - alen);
	mask(rt.prefix, alen, rt.plen);

	pthread_rwlock_wrlock(&r->lock);
	at = find(r, rt.family, rt.prefix, rt.plen);
	if (at >= 0) {
		r->v[at] = rt;
		pthread_rwlock_unlock(&r->lock);
		return 0;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct op_route *v = realloc(r->v, cap * sizeof(*v));
		if (!v) {
			pthread_rwlock_unlock(&r->lock);
			return -ENOMEM;
		}
		r->v = v;
		r->cap = cap;
	}
	for (pos = 0; pos < r->n && r->v[pos].plen >= rt.plen; pos++)
		;
	memmove(&r->v[pos + 1], &r->v[pos], (r->n - pos) * sizeof(*r->v));
	r->v[pos] = rt;
	r->n++;
	pthread_rwlock_unlock(&r->lock);
	return 0;
}

int op_routes_del(struct op_routes *r, uint8_t family, const uint8_t *prefix, uint8_t plen)
{
	uint8_t p[16] = { 0 };
	size_t alen = family == 4 ? 4 : 16;
	ssize_t at;

	if ((family != 4 && family != 6) || plen > alen * 8)
		return -EINVAL;
	memcpy(p, prefix, alen);
	mask(p, alen, plen);
	pthread_rwlock_wrlock(&r->lock);
	at = find(r, family, p, plen);
	if (at >= 0) {
		memmove(&r->v[at], &r->v[at + 1], (r->n - (size_t)at - 1) * sizeof(*r->v));
		r->n--;
	}
	pthread_rwlock_unlock(&r->lock);
	return at >= 0 ? 0 : -ENOENT;
}

int op_routes_lookup(struct op_routes *r, uint8_t family, const uint8_t *dst, struct op_route *out)
{
	int rc = -EHOSTUNREACH;

	pthread_rwlock_rdlock(&r->lock);
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i].family == family && covers(&r->v[i], dst)) {
			*out = r->v[i];
			rc = 0;
			break;
		}
	}
	pthread_rwlock_unlock(&r->lock);
	return rc;
}

size_t op_routes_count(struct op_routes *r)
{
	size_t n;

	pthread_rwlock_rdlock(&r->lock);
	n = r->n;
	pthread_rwlock_unlock(&r->lock);
	return n;
}
