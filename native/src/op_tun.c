/*
 * TUN device creation (tuntap.rst): IFF_TUN | IFF_NO_PI, so each read/write is exactly one IP packet, optionally
 * behind a virtio-net header (IFF_VNET_HDR, little-endian) with checksum and TCP segmentation offload
 * (TUNSETOFFLOAD): then one read or write may carry a 64 KiB TCP super-packet (op_gso.c).
 *
 * A TUN device is created in the network namespace of the thread calling TUNSETIFF and stays there; the fd
 * keeps working from any namespace. To create one inside another namespace without moving a JS thread,
 * a short-lived helper thread enters the namespace, creates the device and exits. Link setup (MTU, up) and
 * routes through the device go the same way: ioctl(2) on a socket and one rtnetlink request each.
 */
#include "op_tun.h"
#include "op_common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct tun_job {
	const char *name;
	const char *netns_path;
	int nonblocking;
	bool offload;
	char ifname[IFNAMSIZ];
	int rc;
};

static int tun_create(struct tun_job *job)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | (job->nonblocking ? O_NONBLOCK : 0));

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (job->offload ? IFF_VNET_HDR : 0);
	if (job->name && job->name[0])
		strncpy(ifr.ifr_name, job->name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	if (job->offload) {
		int le = 1;
		/* A fixed byte order for the header whatever the host's; offloads are an optimisation, so a kernel
		 * refusing them leaves a device that still works (headers present, never GSO). */
		if (ioctl(fd, TUNSETVNETLE, &le) < 0 && !op_host_little_endian()) {
			int err = errno;
			close(fd);
			return -err;
		}
		ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6));
	}
	memcpy(job->ifname, ifr.ifr_name, IFNAMSIZ);
	job->ifname[IFNAMSIZ - 1] = '\0';
	return fd;
}

static void *tun_thread(void *arg)
{
	struct tun_job *job = arg;

	/* Only this helper thread changes namespace; it exits right after, so nothing else runs in it. */
	job->rc = op_enter_netns(job->netns_path);
	if (job->rc == 0)
		job->rc = tun_create(job);
	return NULL;
}

int op_tun_open(const char *name, const char *netns_path, int nonblocking, bool offload, char *name_out, size_t name_out_len)
{
	struct tun_job job = { .name = name, .netns_path = netns_path, .nonblocking = nonblocking, .offload = offload, .rc = -EIO };

	if (name && strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	if (netns_path && netns_path[0]) {
		pthread_t t;
		int err = pthread_create(&t, NULL, tun_thread, &job);
		if (err)
			return -err;
		pthread_join(t, NULL);
	} else {
		job.rc = tun_create(&job);
	}
	if (job.rc >= 0 && name_out && name_out_len) {
		strncpy(name_out, job.ifname, name_out_len - 1);
		name_out[name_out_len - 1] = '\0';
	}
	return job.rc;
}

int op_tun_vnet_hdr(int fd)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return -errno;
	return (ifr.ifr_flags & IFF_VNET_HDR) ? 1 : 0;
}

/* ---- link setup and routes, in the device's namespace ---- */

struct ns_job {
	const char *netns_path;
	int (*fn)(void *arg);
	void *arg;
	int rc;
};

static void *ns_thread(void *p)
{
	struct ns_job *job = p;

	job->rc = op_enter_netns(job->netns_path);
	if (job->rc == 0)
		job->rc = job->fn(job->arg);
	return NULL;
}

/* Runs fn in the namespace at netns_path (a helper thread, like op_tun_open), or right here without one. */
static int in_netns(const char *netns_path, int (*fn)(void *), void *arg)
{
	struct ns_job job = { .netns_path = netns_path, .fn = fn, .arg = arg, .rc = -EIO };
	pthread_t t;
	int err;

	if (!netns_path || !netns_path[0])
		return fn(arg);
	err = pthread_create(&t, NULL, ns_thread, &job);
	if (err)
		return -err;
	pthread_join(t, NULL);
	return job.rc;
}

struct setup_job {
	const char *name;
	unsigned mtu;
};

static int setup_link(void *p)
{
	struct setup_job *job = p;
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, job->name, IFNAMSIZ - 1);
	if (job->mtu > 0) {
		ifr.ifr_mtu = (int)job->mtu;
		if (ioctl(fd, SIOCSIFMTU, &ifr) < 0)
			rc = -errno;
	}
	if (!rc && ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		rc = -errno;
	if (!rc && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			rc = -errno;
	}
	if (!rc && ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
		rc = -errno;
	close(fd);
	return rc ? rc : ifr.ifr_ifindex;
}

int op_tun_setup(const char *name, unsigned mtu, const char *netns_path)
{
	struct setup_job job = { .name = name, .mtu = mtu };

	if (!name || !name[0] || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	if (mtu > 65535)
		return -EINVAL;
	return in_netns(netns_path, setup_link, &job);
}

struct route_job {
	int ifindex;
	int add;
	int family;
	const uint8_t *prefix;
	unsigned plen;
};

static void put_attr(struct nlmsghdr *nh, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((uint8_t *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static int route_change(void *p)
{
	struct route_job *job = p;
	union {
		struct nlmsghdr nh;
		uint8_t buf[256];
	} req, ack;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct rtmsg *rtm;
	uint32_t oif = (uint32_t)job->ifindex;
	int fd, rc;
	ssize_t n;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.nh.nlmsg_type = job->add ? RTM_NEWROUTE : RTM_DELROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (job->add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	req.nh.nlmsg_seq = 1;
	rtm = NLMSG_DATA(&req.nh);
	rtm->rtm_family = job->family == 6 ? AF_INET6 : AF_INET;
	rtm->rtm_dst_len = (unsigned char)job->plen;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = job->add ? RT_SCOPE_LINK : RT_SCOPE_NOWHERE;
	rtm->rtm_type = RTN_UNICAST;
	put_attr(&req.nh, RTA_DST, job->prefix, job->family == 6 ? 16 : 4);
	put_attr(&req.nh, RTA_OIF, &oif, sizeof(oif));

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	n = recv(fd, &ack, sizeof(ack), 0);
	rc = n < 0 ? -errno : -EIO;
	if (n >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) && ack.nh.nlmsg_type == NLMSG_ERROR)
		rc = ((struct nlmsgerr *)NLMSG_DATA(&ack.nh))->error; /* 0 or -errno */
	close(fd);
	return rc;
}

int op_tun_route(int ifindex, int add, int family, const uint8_t *prefix, unsigned plen, const char *netns_path)
{
	struct route_job job = { .ifindex = ifindex, .add = add, .family = family, .prefix = prefix, .plen = plen };

	if (ifindex <= 0 || (family != 4 && family != 6) || plen > (family == 6 ? 128u : 32u))
		return -EINVAL;
	return in_netns(netns_path, route_change, &job);
}
