/*
 * TUN device creation (tuntap.rst): IFF_TUN | IFF_NO_PI, so each read/write is exactly one IP packet.
 *
 * A TUN device is created in the network namespace of the thread calling TUNSETIFF and stays there; the fd
 * keeps working from any namespace. To create one inside another namespace without moving a JS thread,
 * a short-lived helper thread enters the namespace, creates the device and exits.
 */
#include "op_tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct tun_job {
	const char *name;
	const char *netns_path;
	int nonblocking;
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
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (job->name && job->name[0])
		strncpy(ifr.ifr_name, job->name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	memcpy(job->ifname, ifr.ifr_name, IFNAMSIZ);
	job->ifname[IFNAMSIZ - 1] = '\0';
	return fd;
}

static void *tun_thread(void *arg)
{
	struct tun_job *job = arg;
	int ns = open(job->netns_path, O_RDONLY | O_CLOEXEC);

	if (ns < 0) {
		job->rc = -errno;
		return NULL;
	}
	/* Only this helper thread changes namespace; it exits right after, so nothing else runs in it. */
	if (setns(ns, CLONE_NEWNET) < 0) {
		job->rc = -errno;
		close(ns);
		return NULL;
	}
	close(ns);
	job->rc = tun_create(job);
	return NULL;
}

int op_tun_open(const char *name, const char *netns_path, int nonblocking, char *name_out, size_t name_out_len)
{
	struct tun_job job = { .name = name, .netns_path = netns_path, .nonblocking = nonblocking, .rc = -EIO };

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
