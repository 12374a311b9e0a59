/* XFRM kernel notifications (XFRMNLGRP_EXPIRE, _ACQUIRE, _MAPPING; linux/xfrm.h) read by one native thread. */
#ifndef OP_XFRM_EVENTS_H
#define OP_XFRM_EVENTS_H

#include <stdint.h>

#include "op_xfrm_msg.h"

struct op_xfrm_events;

/* Runs on the events thread, one call per notification; must not block. */
typedef void (*op_xfrm_event_cb)(void *arg, const struct op_xfrm_event *ev);

struct op_xfrm_events_stats {
	uint64_t received; /* notifications passed to the callback */
	uint64_t overruns; /* times the kernel dropped notifications because the socket queue was full */
	uint64_t malformed;
};

/* Subscribes in the namespace at netns_path ("" or NULL: the caller's) and starts the thread. 0 or -errno. */
int op_xfrm_events_start(const char *netns_path, op_xfrm_event_cb cb, void *arg, struct op_xfrm_events **out);
/* Stops and joins the thread (cb is not called after this returns), closes the socket, frees e. */
void op_xfrm_events_stop(struct op_xfrm_events *e);
void op_xfrm_events_get_stats(struct op_xfrm_events *e, struct op_xfrm_events_stats *out);

#endif
