/* ESP (RFC 4303) encapsulation and decapsulation of single packets against the SA table. */
#ifndef OP_ESP_H
#define OP_ESP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "op_sa.h"

#define OP_NH_IPV4 4
#define OP_NH_IPV6 41
#define OP_NH_NONE 59 /* dummy packet (RFC 4303 §2.6) */

/* The largest growth encryption can add: header, IV, padding, trailer, ICV. */
#define OP_ESP_MAX_OVERHEAD (OP_ESP_HDR_LEN + OP_MAX_IV_LEN + 15 + 2 + OP_MAX_ICV_LEN)
#define OP_ESP_MAX_INNER 65535u

/* Next Header for a tunnel-mode inner packet from its version nibble; -EPROTONOSUPPORT for neither 4 nor 6. */
int op_esp_tunnel_next_header(const uint8_t *inner, size_t len);

/*
 * Encrypts `inner` with the outbound SA into out (ESP header onward; the caller adds IP/UDP).
 * Returns the ESP length, or -ENOENT (no SA), -EKEYEXPIRED (hard limit), -EOVERFLOW (sequence space
 * exhausted: the SA must be rekeyed), -EMSGSIZE, -ENOBUFS (out too small), -EIO.
 */
ssize_t op_esp_encrypt(uint32_t spi, const uint8_t *inner, size_t inner_len, uint8_t next_header, uint8_t *out,
		       size_t out_cap);

struct op_esp_info {
	uint32_t spi;
	uint64_t seq;          /* full 64-bit number (ESN reconstructed) */
	uint8_t next_header;
};

/*
 * Verifies and decrypts one ESP packet (from the SPI onward) into out, which needs the packet's length.
 * Returns the inner length (payload without padding and trailer) and fills *info, or: -EINVAL (truncated),
 * -ENOENT (unknown SPI), -ESTALE (left of the replay window), -EALREADY (duplicate), -EBADMSG (ICV),
 * -EPROTO (authentic but bad padding), -EKEYEXPIRED, -ENOBUFS. The SA's drop counters record each case.
 */
ssize_t op_esp_decrypt(const uint8_t *pkt, size_t len, uint8_t *out, size_t out_cap, struct op_esp_info *info);

/*
 * op_esp_decrypt plus the tunnel-mode inbound policy of RFC 4301 §5.2, before the sequence number is committed:
 * Next Header must be 4 or 41 and match the inner version (else -EPROTONOSUPPORT), or 59 (a dummy packet,
 * returned with length 0); the inner source and destination must match the SA's selectors (else -EACCES).
 */
ssize_t op_esp_decrypt_tunnel(const uint8_t *pkt, size_t len, uint8_t *out, size_t out_cap, struct op_esp_info *info);

#endif
