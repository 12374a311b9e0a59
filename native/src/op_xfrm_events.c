/*
 * The XFRM notification thread: blocks in poll() on a NETLINK_XFRM socket subscribed to the EXPIRE, ACQUIRE
 * and MAPPING groups (plus an eventfd to stop it), decodes each message with op_xfrm_parse_event and hands it
 * to the callback. It owns its socket; nothing else reads it. Only messages from the kernel (port id 0) count.
 */
#include "op_xfrm_events.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "op_xfrm_nl.h"

#define EVENTS_BUF 16384

struct op_xfrm_events {
	int fd;
	int stop_fd;
	pthread_t thread;
	op_xfrm_event_cb cb;
	void *arg;
	atomic_uint_fast64_t received, overruns, malformed;
};

static void dispatch(struct op_xfrm_events *e, const uint8_t *buf, size_t n)
{
	for (size_t off = 0; n - off >= NLMSG_HDRLEN;) {
		const struct nlmsghdr *h = (const struct nlmsghdr *)(buf + off);
		struct op_xfrm_event ev;
		size_t mlen = h->nlmsg_len;
		int rc;

		if (mlen < NLMSG_HDRLEN || mlen > n - off) {
			atomic_fetch_add(&e->malformed, 1);
			return;
		}
		rc = op_xfrm_parse_event(buf + off, mlen, &ev);
		if (rc == 0) {
			atomic_fetch_add(&e->received, 1);
			e->cb(e->arg, &ev);
		} else if (rc != -ENOMSG) {
			atomic_fetch_add(&e->malformed, 1);
		}
		off += NLMSG_ALIGN(mlen);
	}
}

static void *events_thread(void *p)
{
	struct op_xfrm_events *e = p;
	uint8_t *buf = malloc(EVENTS_BUF);

	if (!buf)
		return NULL;
	for (;;) {
		struct pollfd fds[2] = { { .fd = e->fd, .events = POLLIN }, { .fd = e->stop_fd, .events = POLLIN } };

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[1].revents)
			break;
		for (;;) {
			struct sockaddr_nl from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(e->fd, buf, EVENTS_BUF, 0, (struct sockaddr *)&from, &fl);

			if (n < 0) {
				if (errno == ENOBUFS) {
					atomic_fetch_add(&e->overruns, 1);
					continue;
				}
				break; /* EAGAIN: drained */
			}
			if (from.nl_pid != 0)
				continue;
			dispatch(e, buf, (size_t)n);
		}
	}
	free(buf);
	return NULL;
}

int op_xfrm_events_start(const char *netns_path, op_xfrm_event_cb cb, void *arg, struct op_xfrm_events **out)
{
	static const unsigned groups[] = { XFRMNLGRP_EXPIRE, XFRMNLGRP_ACQUIRE, XFRMNLGRP_MAPPING };
	struct op_xfrm_events *e = calloc(1, sizeof(*e));
	int err;

	if (!e)
		return -ENOMEM;
	e->cb = cb;
	e->arg = arg;
	e->fd = op_xfrm_nl_open_events(netns_path, groups, sizeof(groups) / sizeof(groups[0]));
	if (e->fd < 0) {
		err = e->fd;
		free(e);
		return err;
	}
	e->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->stop_fd < 0) {
		err = -errno;
		close(e->fd);
		free(e);
		return err;
	}
	err = pthread_create(&e->thread, NULL, events_thread, e);
	if (err) {
		close(e->fd);
		close(e->stop_fd);
		free(e);
		return -err;
	}
	*out = e;
	return 0;
}

void op_xfrm_events_stop(struct op_xfrm_events *e)
{
	uint64_t one = 1;

	if (!e)
		return;
	while (write(e->stop_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	pthread_join(e->thread, NULL);
	close(e->fd);
	close(e->stop_fd);
	free(e);
}

void op_xfrm_events_get_stats(struct op_xfrm_events *e, struct op_xfrm_events_stats *out)
{
	out->received = atomic_load(&e->received);
	out->overruns = atomic_load(&e->overruns);
	out->malformed = atomic_load(&e->malformed);
}
