/*
 * ESP packet processing (RFC 4303 §3.3 outbound, §3.4 inbound).
 *
 * Outbound: reserve the next sequence number under sa->lock (never reused, never wrapped: §3.3.3), build
 * header, IV, payload, monotonic padding and trailer, seal under crypto_lock, then account.
 * Inbound (RFC 6479 order): replay check under sa->lock, authenticate + decrypt under crypto_lock, then
 * re-check and commit under sa->lock, since another thread may have accepted the same number meanwhile.
 * The IV of the AEAD transforms is the 64-bit sequence number (RFC 4106 §3.1, RFC 7634 §2 allow a counter):
 * unique per key because sequence numbers never repeat. CBC needs an unpredictable IV (RFC 3602 §3), so random.
 * The tunnel variant of decryption also applies the inbound policy of RFC 4301 §5.2 before committing the
 * sequence number, so a packet the SA may not carry neither reaches the TUN device nor moves the window.
 */
#include "op_esp.h"
#include "op_common.h"

#include <string.h>

#include <openssl/rand.h>

int op_esp_tunnel_next_header(const uint8_t *inner, size_t len)
{
	if (len < 1)
		return -EPROTONOSUPPORT;
	switch (inner[0] >> 4) {
	case 4: return OP_NH_IPV4;
	case 6: return OP_NH_IPV6;
	default: return -EPROTONOSUPPORT;
	}
}

static size_t pad_len_for(size_t inner_len, size_t block)
{
	return (block - (inner_len + 2) % block) % block;
}

ssize_t op_esp_encrypt(uint32_t spi, const uint8_t *inner, size_t inner_len, uint8_t next_header, uint8_t *out,
		       size_t out_cap)
{
	struct op_sa *sa;
	size_t pad, pt_len, total;
	uint64_t seq;
	uint8_t *iv, *pt;
	ssize_t rc;

	if (inner_len > OP_ESP_MAX_INNER)
		return -EMSGSIZE;
	sa = op_sa_get(spi, OP_DIR_OUT);
	if (!sa)
		return -ENOENT;
	pad = pad_len_for(inner_len, sa->xform.block_len);
	pt_len = inner_len + pad + 2;
	total = OP_ESP_HDR_LEN + sa->xform.iv_len + pt_len + sa->xform.icv_len;
	if (total > out_cap) {
		rc = -ENOBUFS;
		goto out;
	}

	pthread_mutex_lock(&sa->lock);
	if (sa->c.hard_expired) {
		sa->c.expired_drops++;
		pthread_mutex_unlock(&sa->lock);
		rc = -EKEYEXPIRED;
		goto out;
	}
	if (sa->tx_seq == (sa->esn ? UINT64_MAX : UINT32_MAX)) {
		sa->c.expired_drops++;
		op_sa_expire_hard_locked(sa);
		pthread_mutex_unlock(&sa->lock);
		rc = -EOVERFLOW;
		goto out;
	}
	seq = ++sa->tx_seq;
	pthread_mutex_unlock(&sa->lock);

	op_store_be32(out, spi);
	op_store_be32(out + 4, (uint32_t)seq);
	iv = out + OP_ESP_HDR_LEN;
	pt = iv + sa->xform.iv_len;
	if (sa->xform.kind == OP_XFORM_AEAD) {
		op_store_be64(iv, seq);
	} else if (RAND_bytes(iv, sa->xform.iv_len) != 1) {
		rc = -EIO;
		goto out;
	}
	memmove(pt, inner, inner_len);
	for (size_t i = 0; i < pad; i++)
		pt[inner_len + i] = (uint8_t)(i + 1); /* RFC 4303 §2.4 default padding: 1, 2, 3, ... */
	pt[inner_len + pad] = (uint8_t)pad;
	pt[inner_len + pad + 1] = next_header;

	pthread_mutex_lock(&sa->crypto_lock);
	rc = op_xform_seal(&sa->xform, out, pt_len, sa->esn, (uint32_t)(seq >> 32));
	pthread_mutex_unlock(&sa->crypto_lock);
	if (rc)
		goto out;

	pthread_mutex_lock(&sa->lock);
	op_sa_account_locked(sa, inner_len);
	pthread_mutex_unlock(&sa->lock);
	rc = (ssize_t)total;
out:
	op_sa_put(sa);
	return rc;
}

static void count_drop(struct op_sa *sa, uint64_t *counter)
{
	pthread_mutex_lock(&sa->lock);
	(*counter)++;
	pthread_mutex_unlock(&sa->lock);
}

static int tunnel_policy(const struct op_sa *sa, const uint8_t *inner, size_t len, uint8_t nh)
{
	struct op_flow f;

	if (nh == OP_NH_NONE)
		return 0;
	if (nh != OP_NH_IPV4 && nh != OP_NH_IPV6)
		return -EPROTONOSUPPORT;
	if (op_esp_tunnel_next_header(inner, len) != nh || op_flow_parse(inner, len, &f) != 0)
		return -EPROTONOSUPPORT;
	return op_sa_selectors_allow(sa, &f) ? 0 : -EACCES;
}

static ssize_t decrypt(const uint8_t *pkt, size_t len, uint8_t *out, size_t out_cap, struct op_esp_info *info,
		       bool tunnel)
{
	struct op_sa *sa;
	size_t ct_len, min_ct;
	uint32_t spi, seq_low;
	uint64_t seq = 0;
	uint8_t pad, nh;
	ssize_t rc;

	if (len < OP_ESP_HDR_LEN) {
		op_global_count_truncated();
		return -EINVAL;
	}
	spi = op_load_be32(pkt);
	seq_low = op_load_be32(pkt + 4);
	sa = op_sa_get(spi, OP_DIR_IN);
	if (!sa) {
		op_global_count_no_sa();
		return -ENOENT;
	}

	min_ct = sa->xform.kind == OP_XFORM_AEAD ? 2 : sa->xform.block_len;
	if (len < OP_ESP_HDR_LEN + sa->xform.iv_len + min_ct + sa->xform.icv_len) {
		count_drop(sa, &sa->c.malformed_drops);
		rc = -EINVAL;
		goto out;
	}
	ct_len = len - OP_ESP_HDR_LEN - sa->xform.iv_len - sa->xform.icv_len;
	if (ct_len % sa->xform.block_len && sa->xform.kind != OP_XFORM_AEAD) {
		count_drop(sa, &sa->c.malformed_drops);
		rc = -EINVAL;
		goto out;
	}
	if (ct_len > out_cap) {
		rc = -ENOBUFS;
		goto out;
	}

	pthread_mutex_lock(&sa->lock);
	if (sa->c.hard_expired) {
		sa->c.expired_drops++;
		rc = -EKEYEXPIRED;
	} else if (sa->esn) {
		rc = op_replay_infer_esn(&sa->replay, seq_low, &seq);
		if (rc == 0)
			rc = op_replay_check(&sa->replay, seq);
	} else {
		seq = seq_low;
		rc = op_replay_check(&sa->replay, seq);
	}
	if (rc == -ESTALE || rc == -EALREADY)
		sa->c.replay_drops++;
	pthread_mutex_unlock(&sa->lock);
	if (rc)
		goto out;

	pthread_mutex_lock(&sa->crypto_lock);
	rc = op_xform_open(&sa->xform, pkt, ct_len, sa->esn, (uint32_t)(seq >> 32), out);
	pthread_mutex_unlock(&sa->crypto_lock);
	if (rc) {
		if (rc == -EBADMSG)
			count_drop(sa, &sa->c.auth_drops);
		goto out;
	}

	pad = out[ct_len - 2];
	nh = out[ct_len - 1];
	if ((size_t)pad + 2 > ct_len) {
		count_drop(sa, &sa->c.malformed_drops);
		rc = -EPROTO;
		goto out;
	}
	for (size_t i = 0; i < pad; i++) {
		if (out[ct_len - 2 - pad + i] != (uint8_t)(i + 1)) {
			count_drop(sa, &sa->c.malformed_drops);
			rc = -EPROTO;
			goto out;
		}
	}

	if (tunnel) {
		rc = tunnel_policy(sa, out, ct_len - 2 - pad, nh);
		if (rc) {
			count_drop(sa, &sa->c.policy_drops);
			goto out;
		}
	}

	pthread_mutex_lock(&sa->lock);
	rc = op_replay_check(&sa->replay, seq);
	if (rc == 0) {
		op_replay_commit(&sa->replay, seq);
		op_sa_account_locked(sa, ct_len - 2 - pad);
	} else {
		sa->c.replay_drops++;
	}
	pthread_mutex_unlock(&sa->lock);
	if (rc)
		goto out;

	info->spi = spi;
	info->seq = seq;
	info->next_header = nh;
	rc = nh == OP_NH_NONE && tunnel ? 0 : (ssize_t)(ct_len - 2 - pad);
out:
	op_sa_put(sa);
	return rc;
}

ssize_t op_esp_decrypt(const uint8_t *pkt, size_t len, uint8_t *out, size_t out_cap, struct op_esp_info *info)
{
	return decrypt(pkt, len, out, out_cap, info, false);
}

ssize_t op_esp_decrypt_tunnel(const uint8_t *pkt, size_t len, uint8_t *out, size_t out_cap, struct op_esp_info *info)
{
	return decrypt(pkt, len, out, out_cap, info, true);
}
