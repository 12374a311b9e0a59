/*
 * ike-flood: spoofed-source IKE_SA_INIT flood for DoS tests (RFC 7296 §2.6 cookies), bounded in count and time.
 *
 *   ike-flood --template FILE --nonce-offset N --dst 192.0.2.1 [--dst-port 500] [--src-net 198.18.0.0/15]
 *             [--rate 25000] [--seconds 10] [--max 250000] [--seed 1]
 *
 * Sends copies of the IKE_SA_INIT request in FILE (IKE header onward) as raw IPv4/UDP packets (IP_HDRINCL, so the
 * source address can be anything; needs CAP_NET_RAW, run it inside a test namespace) from random sources in
 * --src-net (default 198.18.0.0/15, the RFC 2544 benchmarking range) and random source ports. Each copy gets a
 * random SPIi and 8 random octets of nonce at --nonce-offset, as a flood of distinct initiators would. Rate is
 * paced with a token bucket; batches go out with sendmmsg. Stops at --max packets or --seconds, whichever is first,
 * and prints one JSON line: {"sent":…,"seconds":…,"rate":…,"errors":…}.
 * Test tool only: it never runs outside the namespaces the tests create.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_IKE 2048

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: plenty for addresses and SPIs of test traffic */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int usage(const char *why)
{
	fprintf(stderr, "ike-flood: %s\nusage: ike-flood --template FILE --nonce-offset N --dst ADDR [--dst-port P] [--src-net A/L] "
			"[--rate PPS] [--seconds S] [--max N] [--seed N]\n", why);
	return 2;
}

int main(int argc, char **argv)
{
	const char *tmpl_path = NULL, *dst_text = NULL, *src_net = "198.18.0.0/15";
	long nonce_off = -1, dst_port = 500, rate = 25000, max = 250000, seed = 1;
	double seconds = 10;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--template")) tmpl_path = v;
		else if (!strcmp(k, "--nonce-offset")) nonce_off = strtol(v, NULL, 10);
		else if (!strcmp(k, "--dst")) dst_text = v;
		else if (!strcmp(k, "--dst-port")) dst_port = strtol(v, NULL, 10);
		else if (!strcmp(k, "--src-net")) src_net = v;
		else if (!strcmp(k, "--rate")) rate = strtol(v, NULL, 10);
		else if (!strcmp(k, "--seconds")) seconds = strtod(v, NULL);
		else if (!strcmp(k, "--max")) max = strtol(v, NULL, 10);
		else if (!strcmp(k, "--seed")) seed = strtol(v, NULL, 10);
		else return usage("unknown option");
	}
	if (!tmpl_path || !dst_text || nonce_off < 28) return usage("--template, --dst and --nonce-offset are required");
	if (rate <= 0 || max <= 0 || seconds <= 0 || seconds > 60) return usage("--rate, --max > 0 and --seconds in (0, 60]");
	rng_state = 0x9E3779B97F4A7C15ULL ^ (uint64_t)seed;

	uint8_t ike[MAX_IKE];
	FILE *f = fopen(tmpl_path, "rb");
	if (!f) return usage("cannot open --template");
	size_t ike_len = fread(ike, 1, sizeof(ike), f);
	fclose(f);
	if (ike_len < 28 || (size_t)nonce_off + 8 > ike_len) return usage("template too short for --nonce-offset");

	struct in_addr dst, net;
	char netbuf[64];
	snprintf(netbuf, sizeof(netbuf), "%s", src_net);
	char *slash = strchr(netbuf, '/');
	int plen = slash ? atoi(slash + 1) : 32;
	if (slash) *slash = 0;
	if (inet_pton(AF_INET, dst_text, &dst) != 1 || inet_pton(AF_INET, netbuf, &net) != 1 || plen < 8 || plen > 32)
		return usage("bad --dst or --src-net");
	uint32_t host_mask = plen == 32 ? 0 : (0xffffffffu >> plen);
	uint32_t net_base = ntohl(net.s_addr) & ~host_mask;

	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		perror("ike-flood: socket(SOCK_RAW)");
		return 1;
	}
	int sndbuf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));

	size_t pkt_len = sizeof(struct iphdr) + sizeof(struct udphdr) + ike_len;
	static uint8_t bufs[BATCH][sizeof(struct iphdr) + sizeof(struct udphdr) + MAX_IKE];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = dst };
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		struct iphdr *ip = (struct iphdr *)bufs[i];
		struct udphdr *udp = (struct udphdr *)(bufs[i] + sizeof(*ip));
		memset(bufs[i], 0, pkt_len);
		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		ip->daddr = dst.s_addr;
		ip->tot_len = htons(pkt_len);
		udp->dest = htons((uint16_t)dst_port);
		udp->len = htons(sizeof(*udp) + ike_len);
		udp->check = 0; /* optional for UDP over IPv4 (RFC 768) */
		memcpy(bufs[i] + sizeof(*ip) + sizeof(*udp), ike, ike_len);
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = pkt_len;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &to;
		msgs[i].msg_hdr.msg_namelen = sizeof(to);
	}

	long sent = 0, errors = 0;
	double start = now_sec(), tokens = 0, last = start;
	while (sent < max) {
		double t = now_sec();
		if (t - start >= seconds) break;
		tokens += (t - last) * rate;
		last = t;
		if (tokens > BATCH * 4) tokens = BATCH * 4;
		if (tokens < BATCH) {
			struct timespec nap = { 0, (long)((BATCH - tokens) / rate * 1e9) };
			nanosleep(&nap, NULL);
			continue;
		}
		int n = BATCH;
		if (sent + n > max) n = (int)(max - sent);
		for (int i = 0; i < n; i++) {
			struct iphdr *ip = (struct iphdr *)bufs[i];
			struct udphdr *udp = (struct udphdr *)(bufs[i] + sizeof(*ip));
			uint8_t *p = bufs[i] + sizeof(*ip) + sizeof(*udp);
			uint64_t r1 = rng(), r2 = rng();
			ip->saddr = htonl(net_base | ((uint32_t)r1 & host_mask));
			ip->id = (uint16_t)(r1 >> 32);
			udp->source = htons((uint16_t)(1024 + ((r1 >> 48) % 64000)));
			memcpy(p, &r2, 8); /* SPIi */
			if (p[0] == 0) p[0] = 1; /* a zero SPIi is malformed, not a new initiator */
			uint64_t r3 = rng();
			memcpy(p + nonce_off, &r3, 8);
		}
		int done = sendmmsg(fd, msgs, n, 0);
		if (done < 0) {
			if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
				perror("ike-flood: sendmmsg");
				return 1;
			}
			errors++;
			continue;
		}
		sent += done;
		tokens -= done;
	}
	double secs = now_sec() - start;
	printf("{\"sent\":%ld,\"seconds\":%.3f,\"rate\":%.0f,\"errors\":%ld}\n", sent, secs, secs > 0 ? sent / secs : 0.0, errors);
	close(fd);
	return 0;
}
