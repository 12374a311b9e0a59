/*
 * NETLINK_XFRM requests and SIOCETHTOOL queries (see op_xfrm_nl.h).
 *
 * NETLINK_CAP_ACK is set on request sockets so a refused NEWSA is not echoed back with its keys; receive
 * buffers are wiped after use because GETSA answers carry the keys too.
 */
#include "op_xfrm_nl.h"
#include "op_common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define RECV_BUF 16384

struct netns_job {
	const char *path;
	int (*fn)(void *);
	void *arg;
	int rc;
};

static void *netns_thread(void *p)
{
	struct netns_job *job = p;

	if (!job->path) {
		/* A fresh namespace for this thread alone; it disappears with the thread and the sockets made in it. */
		if (unshare(CLONE_NEWNET) < 0) {
			job->rc = -errno;
			return NULL;
		}
	} else {
		job->rc = op_enter_netns(job->path);
		if (job->rc < 0)
			return NULL;
	}
	job->rc = job->fn(job->arg);
	return NULL;
}

int op_xfrm_nl_in_netns(const char *netns_path, int (*fn)(void *), void *arg)
{
	struct netns_job job = { .path = netns_path, .fn = fn, .arg = arg, .rc = -EIO };
	pthread_t t;
	int err;

	if (netns_path && !netns_path[0])
		return fn(arg);
	err = pthread_create(&t, NULL, netns_thread, &job);
	if (err)
		return -err;
	pthread_join(t, NULL);
	return job.rc;
}

static int xfrm_socket(bool nonblocking)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 5 };
	int one = 1;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), NETLINK_XFRM);

	if (fd < 0)
		return -errno;
	/* Best effort: kernels before 4.12 lack extended acks; the errno still comes through. */
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

static int open_fn(void *arg)
{
	struct op_xfrm_nl *nl = arg;

	nl->fd = xfrm_socket(false);
	if (nl->fd < 0)
		return nl->fd;
	nl->ioctl_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (nl->ioctl_fd < 0) {
		int err = errno;
		close(nl->fd);
		nl->fd = -1;
		return -err;
	}
	return 0;
}

int op_xfrm_nl_open(struct op_xfrm_nl *nl, const char *netns_path)
{
	memset(nl, 0, sizeof(*nl));
	nl->fd = nl->ioctl_fd = -1;
	return op_xfrm_nl_in_netns(netns_path ? netns_path : "", open_fn, nl);
}

void op_xfrm_nl_close(struct op_xfrm_nl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	if (nl->ioctl_fd >= 0)
		close(nl->ioctl_fd);
	nl->fd = nl->ioctl_fd = -1;
}

int op_xfrm_nl_request(struct op_xfrm_nl *nl, uint8_t *msg, size_t len, uint8_t *reply, size_t reply_cap, size_t *reply_len)
{
	struct nlmsghdr *req = (struct nlmsghdr *)msg;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	bool want_ack, got_data = false;
	uint32_t seq;
	uint8_t *buf;
	ssize_t n;
	int rc = -EIO;

	if (reply_len)
		*reply_len = 0;
	nl->last_error[0] = '\0';
	if (nl->fd < 0)
		return -EBADF;
	if (len < NLMSG_HDRLEN || req->nlmsg_len != len)
		return -EINVAL;
	seq = ++nl->seq ? nl->seq : ++nl->seq;
	req->nlmsg_seq = seq;
	want_ack = req->nlmsg_flags & NLM_F_ACK;
	do
		n = sendto(nl->fd, msg, len, 0, (struct sockaddr *)&kernel, sizeof(kernel));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	buf = malloc(RECV_BUF);
	if (!buf)
		return -ENOMEM;
	for (bool done = false; !done;) {
		do
			n = recv(nl->fd, buf, RECV_BUF, MSG_TRUNC);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			rc = errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
			break;
		}
		if ((size_t)n > RECV_BUF) {
			rc = -EMSGSIZE;
			break;
		}
		for (size_t off = 0; !done && (size_t)n - off >= NLMSG_HDRLEN;) {
			const struct nlmsghdr *h = (const struct nlmsghdr *)(buf + off);
			size_t mlen = h->nlmsg_len;
			int err = 0;

			if (mlen < NLMSG_HDRLEN || mlen > (size_t)n - off)
				break;
			off += NLMSG_ALIGN(mlen);
			if (h->nlmsg_seq != seq)
				continue; /* an answer to an earlier, timed-out request */
			if (h->nlmsg_type == NLMSG_ERROR) {
				if (op_xfrm_parse_ack((const uint8_t *)h, mlen, seq, &err, nl->last_error, sizeof(nl->last_error)) != 1)
					err = -EBADMSG;
				rc = err;
				done = true;
			} else if (h->nlmsg_type == NLMSG_DONE) {
				rc = 0;
				done = true;
			} else if (!got_data) {
				got_data = true;
				if (reply) {
					if (mlen > reply_cap) {
						rc = -EMSGSIZE;
						done = true;
						continue;
					}
					memcpy(reply, h, mlen);
					if (reply_len)
						*reply_len = mlen;
				}
				if (!want_ack) {
					rc = 0;
					done = true;
				}
			}
		}
	}
	explicit_bzero(buf, RECV_BUF);
	free(buf);
	return rc;
}

struct events_job {
	const unsigned *groups;
	size_t n;
};

static int events_fn(void *arg)
{
	struct events_job *job = arg;
	int size = 1 << 20;
	int fd = xfrm_socket(true);

	if (fd < 0)
		return fd;
	/* Bursts of expiries (many SAs created together) must not overflow the queue; overruns show as ENOBUFS. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	for (size_t i = 0; i < job->n; i++) {
		if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &job->groups[i], sizeof(job->groups[i])) < 0) {
			int err = errno;
			close(fd);
			return -err;
		}
	}
	return fd;
}

int op_xfrm_nl_open_events(const char *netns_path, const unsigned *groups, size_t n_groups)
{
	struct events_job job = { .groups = groups, .n = n_groups };

	return op_xfrm_nl_in_netns(netns_path ? netns_path : "", events_fn, &job);
}

struct probe_job {
	bool private_ns;
	struct op_xfrm_probe *out;
};

static int probe_fn(void *arg)
{
	static const uint8_t zeros[64];
	struct probe_job *job = arg;
	struct op_xfrm_probe *out = job->out;
	struct op_xfrm_nl nl = { .fd = -1, .ioctl_fd = -1 };
	uint8_t *buf = malloc(OP_XFRM_MSG_MAX);

	if (!buf) {
		out->open_rc = -ENOMEM;
		return 0;
	}
	nl.fd = xfrm_socket(false);
	if (nl.fd < 0) {
		out->open_rc = nl.fd;
		snprintf(out->open_what, sizeof(out->open_what), "socket(NETLINK_XFRM)");
		free(buf);
		return 0;
	}
	for (int i = 0; i < OP_XFRM_PROBE_STEPS; i++) {
		struct op_xfrm_probe_step *s = &out->steps[i];
		struct op_xfrm_sa sa = { .mode = XFRM_MODE_TUNNEL, .replay_window = 32 };
		struct op_xfrm_said id;
		ssize_t len;

		/* Reserved SPIs in the caller's namespace: never negotiated by IKE, so never in anyone's way. */
		sa.spi = job->private_ns ? 0x100u + (uint32_t)i : 1u + (uint32_t)i;
		sa.family = (uint16_t)op_xfrm_parse_addr(job->private_ns ? "192.0.2.1" : "127.0.0.1", &sa.src);
		op_xfrm_parse_addr(job->private_ns ? "192.0.2.2" : "127.0.0.1", &sa.dst);
		sa.enc_key = zeros;
		if (i == 0) {
			s->what = "cbc(aes)+hmac(sha256)";
			strcpy(sa.crypt_name, "cbc(aes)");
			sa.enc_key_len = 16;
			strcpy(sa.auth_name, "hmac(sha256)");
			sa.auth_key = zeros;
			sa.auth_key_len = 32;
			sa.trunc_bits = 128;
		} else if (i == 1) {
			s->what = "rfc4106(gcm(aes))";
			strcpy(sa.aead_name, "rfc4106(gcm(aes))");
			sa.enc_key_len = 20;
			sa.icv_bits = 128;
		} else {
			s->what = "rfc7539esp(chacha20,poly1305)";
			strcpy(sa.aead_name, "rfc7539esp(chacha20,poly1305)");
			sa.enc_key_len = 36;
			sa.icv_bits = 128;
		}
		len = op_xfrm_build_sa(buf, OP_XFRM_MSG_MAX, XFRM_MSG_NEWSA, 0, &sa);
		s->rc = len < 0 ? (int)len : op_xfrm_nl_request(&nl, buf, (size_t)len, NULL, 0, NULL);
		memcpy(s->message, nl.last_error, sizeof(s->message));
		if (s->rc == 0) {
			id.family = sa.family;
			id.dst = sa.dst;
			id.spi = sa.spi;
			len = op_xfrm_build_said(buf, OP_XFRM_MSG_MAX, XFRM_MSG_DELSA, 0, &id);
			if (len > 0)
				op_xfrm_nl_request(&nl, buf, (size_t)len, NULL, 0, NULL);
		}
	}
	op_xfrm_nl_close(&nl);
	free(buf);
	return 0;
}

void op_xfrm_probe_kernel(const char *netns_path, struct op_xfrm_probe *out)
{
	struct probe_job job = { .private_ns = netns_path == NULL || netns_path[0] != '\0', .out = out };
	int rc;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < OP_XFRM_PROBE_STEPS; i++)
		out->steps[i].rc = -ECANCELED;
	rc = op_xfrm_nl_in_netns(netns_path, probe_fn, &job);
	if (rc) {
		out->open_rc = rc;
		snprintf(out->open_what, sizeof(out->open_what), "%s", netns_path ? "setns" : "unshare(CLONE_NEWNET)");
	}
}

int op_xfrm_ifindex(int ioctl_fd, const char *ifname)
{
	struct ifreq ifr;

	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(ioctl_fd, SIOCGIFINDEX, &ifr) < 0)
		return -errno;
	return ifr.ifr_ifindex;
}

static int ethtool(int fd, const char *ifname, void *cmd)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	ifr.ifr_data = cmd;
	return ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
}

int op_ethtool_esp_features(int ioctl_fd, const char *ifname, struct op_ethtool_esp *out)
{
	uint64_t sset_raw[(sizeof(struct ethtool_sset_info) + sizeof(uint32_t) + 7) / 8] = { 0 };
	struct ethtool_sset_info *sset = (struct ethtool_sset_info *)sset_raw;
	struct ethtool_gstrings *strings = NULL;
	struct ethtool_gfeatures *features = NULL;
	uint32_t count, blocks;
	int rc, idx_hw = -1, idx_csum = -1;

	memset(out, 0, sizeof(*out));
	rc = op_xfrm_ifindex(ioctl_fd, ifname);
	if (rc < 0)
		return rc;
	out->ifindex = rc;
	sset->cmd = ETHTOOL_GSSET_INFO;
	sset->sset_mask = 1ULL << ETH_SS_FEATURES;
	rc = ethtool(ioctl_fd, ifname, sset);
	if (rc)
		return rc;
	if (!(sset->sset_mask & (1ULL << ETH_SS_FEATURES)))
		return -EOPNOTSUPP;
	count = sset->data[0];
	if (count == 0 || count > 4096)
		return -EPROTO;
	strings = calloc(1, sizeof(*strings) + (size_t)count * ETH_GSTRING_LEN);
	blocks = (count + 31) / 32;
	features = calloc(1, sizeof(*features) + blocks * sizeof(features->features[0]));
	if (!strings || !features) {
		rc = -ENOMEM;
		goto out;
	}
	strings->cmd = ETHTOOL_GSTRINGS;
	strings->string_set = ETH_SS_FEATURES;
	strings->len = count;
	rc = ethtool(ioctl_fd, ifname, strings);
	if (rc)
		goto out;
	for (uint32_t i = 0; i < count && i < strings->len; i++) {
		const char *name = (const char *)strings->data + (size_t)i * ETH_GSTRING_LEN;
		if (strncmp(name, "esp-hw-offload", ETH_GSTRING_LEN) == 0)
			idx_hw = (int)i;
		else if (strncmp(name, "esp-tx-csum-hw-offload", ETH_GSTRING_LEN) == 0)
			idx_csum = (int)i;
	}
	features->cmd = ETHTOOL_GFEATURES;
	features->size = blocks;
	rc = ethtool(ioctl_fd, ifname, features);
	if (rc)
		goto out;
	for (int k = 0; k < 2; k++) {
		int idx = k == 0 ? idx_hw : idx_csum;
		struct op_ethtool_feature *f = k == 0 ? &out->hw_offload : &out->tx_csum;
		const struct ethtool_get_features_block *blk;
		uint32_t bit;

		if (idx < 0 || (uint32_t)idx / 32 >= features->size || (uint32_t)idx / 32 >= blocks)
			continue;
		blk = &features->features[idx / 32];
		bit = 1u << (idx % 32);
		f->present = true;
		f->available = blk->available & bit;
		f->requested = blk->requested & bit;
		f->active = blk->active & bit;
		f->never_changed = blk->never_changed & bit;
	}
out:
	free(strings);
	free(features);
	return rc;
}
