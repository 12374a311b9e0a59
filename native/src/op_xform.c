/*
 * ESP transforms over OpenSSL EVP (RFC 4303 §3.3.2, §3.4.4).
 * AEAD (RFC 4106 §4-5, RFC 7634 §2): nonce = salt || IV, AAD = SPI || Seq, or SPI || Seq-high || Seq-low with ESN.
 * CBC + HMAC (RFC 3602, RFC 4868): encrypt-then-MAC, ICV = HMAC(SPI || Seq || IV || ciphertext [|| Seq-high]).
 * Contexts are keyed once per SA; per packet only the IV is set, so a context must not be shared between
 * threads without the SA's crypto lock.
 */
#include "op_xform.h"
#include "op_common.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

static const EVP_CIPHER *gcm_cipher(uint16_t bits)
{
	switch (bits) {
	case 128: return EVP_aes_128_gcm();
	case 192: return EVP_aes_192_gcm();
	case 256: return EVP_aes_256_gcm();
	default: return NULL;
	}
}

static const EVP_CIPHER *cbc_cipher(uint16_t bits)
{
	switch (bits) {
	case 128: return EVP_aes_128_cbc();
	case 192: return EVP_aes_192_cbc();
	case 256: return EVP_aes_256_cbc();
	default: return NULL;
	}
}

static int integ_info(uint16_t integ_id, const char **digest, size_t *key_len, uint8_t *icv_len)
{
	switch (integ_id) {
	case OP_INTEG_HMAC_SHA2_256_128: *digest = "SHA2-256"; *key_len = 32; *icv_len = 16; return 0;
	case OP_INTEG_HMAC_SHA2_384_192: *digest = "SHA2-384"; *key_len = 48; *icv_len = 24; return 0;
	case OP_INTEG_HMAC_SHA2_512_256: *digest = "SHA2-512"; *key_len = 64; *icv_len = 32; return 0;
	default: return -EOPNOTSUPP;
	}
}

static int key_cipher(struct op_xform *x, const EVP_CIPHER *c, const uint8_t *key)
{
	x->cipher = EVP_CIPHER_CTX_new();
	if (!x->cipher)
		return -ENOMEM;
	if (EVP_CipherInit_ex(x->cipher, c, NULL, key, NULL, x->encrypt ? 1 : 0) != 1)
		return -EIO;
	return 0;
}

static int init_aead(struct op_xform *x, const struct op_xform_params *p)
{
	const EVP_CIPHER *c;
	size_t key_len;

	if (p->integ_id != OP_INTEG_NONE)
		return -EINVAL; /* RFC 4106 §8.4 / RFC 7634 §4: AEAD carries its own integrity */
	if (p->encr_id == OP_ENCR_CHACHA20_POLY1305) {
		if (p->encr_key_bits != 0 && p->encr_key_bits != 256)
			return -EINVAL;
		c = EVP_chacha20_poly1305();
		key_len = 32;
		x->icv_len = 16;
	} else {
		c = gcm_cipher(p->encr_key_bits);
		if (!c)
			return -EINVAL;
		key_len = p->encr_key_bits / 8;
		x->icv_len = p->encr_id == OP_ENCR_AES_GCM_8 ? 8 : p->encr_id == OP_ENCR_AES_GCM_12 ? 12 : 16;
	}
	if (p->enc_key_len != key_len + OP_AEAD_SALT_LEN)
		return -EINVAL;
	x->kind = OP_XFORM_AEAD;
	x->iv_len = 8;
	x->block_len = 4; /* only the 32-bit alignment of RFC 4303 §2.4 */
	memcpy(x->salt, p->enc_key + key_len, OP_AEAD_SALT_LEN);
	return key_cipher(x, c, p->enc_key);
}

static int init_cbc_hmac(struct op_xform *x, const struct op_xform_params *p)
{
	const EVP_CIPHER *c = cbc_cipher(p->encr_key_bits);
	const char *digest;
	size_t integ_key_len;
	EVP_MAC *mac;
	OSSL_PARAM params[2];
	int rc;

	if (!c || p->enc_key_len != (size_t)p->encr_key_bits / 8)
		return -EINVAL;
	if (p->integ_id == OP_INTEG_NONE)
		return -EINVAL; /* CBC without integrity is forbidden (RFC 8221 §5) */
	rc = integ_info(p->integ_id, &digest, &integ_key_len, &x->icv_len);
	if (rc)
		return rc;
	if (p->integ_key_len != integ_key_len)
		return -EINVAL;
	x->kind = OP_XFORM_CBC_HMAC;
	x->iv_len = 16;
	x->block_len = 16;
	rc = key_cipher(x, c, p->enc_key);
	if (rc)
		return rc;
	if (EVP_CIPHER_CTX_set_padding(x->cipher, 0) != 1)
		return -EIO;

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!mac)
		return -EOPNOTSUPP;
	x->mac = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (!x->mac)
		return -ENOMEM;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(x->mac, p->integ_key, p->integ_key_len, params) != 1)
		return -EIO;
	return 0;
}

int op_xform_init(struct op_xform *x, const struct op_xform_params *p, bool encrypt)
{
	int rc;

	memset(x, 0, sizeof(*x));
	x->encrypt = encrypt;
	switch (p->encr_id) {
	case OP_ENCR_AES_GCM_8:
	case OP_ENCR_AES_GCM_12:
	case OP_ENCR_AES_GCM_16:
	case OP_ENCR_CHACHA20_POLY1305:
		rc = init_aead(x, p);
		break;
	case OP_ENCR_AES_CBC:
		rc = init_cbc_hmac(x, p);
		break;
	default:
		rc = -EOPNOTSUPP;
	}
	if (rc)
		op_xform_free(x);
	return rc;
}

void op_xform_free(struct op_xform *x)
{
	EVP_CIPHER_CTX_free(x->cipher); /* cleanses the key schedule */
	EVP_MAC_CTX_free(x->mac);
	OPENSSL_cleanse(x->salt, sizeof(x->salt));
	x->cipher = NULL;
	x->mac = NULL;
}

static size_t aead_aad(const uint8_t *pkt, bool esn, uint32_t seq_high, uint8_t aad[12])
{
	if (!esn) {
		memcpy(aad, pkt, 8);
		return 8;
	}
	memcpy(aad, pkt, 4);
	op_store_be32(aad + 4, seq_high);
	memcpy(aad + 8, pkt + 4, 4);
	return 12;
}

static int hmac_icv(struct op_xform *x, const uint8_t *pkt, size_t covered, bool esn, uint32_t seq_high,
		    uint8_t out[EVP_MAX_MD_SIZE])
{
	uint8_t high[4];
	size_t out_len = 0;

	if (EVP_MAC_init(x->mac, NULL, 0, NULL) != 1 || EVP_MAC_update(x->mac, pkt, covered) != 1)
		return -EIO;
	if (esn) {
		op_store_be32(high, seq_high);
		if (EVP_MAC_update(x->mac, high, sizeof(high)) != 1)
			return -EIO;
	}
	if (EVP_MAC_final(x->mac, out, &out_len, EVP_MAX_MD_SIZE) != 1 || out_len < x->icv_len)
		return -EIO;
	return 0;
}

int op_xform_seal(struct op_xform *x, uint8_t *pkt, size_t pt_len, bool esn, uint32_t seq_high)
{
	uint8_t *iv = pkt + OP_ESP_HDR_LEN;
	uint8_t *data = iv + x->iv_len;
	int n = 0, fin = 0;

	if (!x->encrypt || pt_len > INT32_MAX)
		return -EINVAL;
	if (x->kind == OP_XFORM_AEAD) {
		uint8_t nonce[12], aad[12];
		size_t aad_len = aead_aad(pkt, esn, seq_high, aad);

		memcpy(nonce, x->salt, OP_AEAD_SALT_LEN);
		memcpy(nonce + OP_AEAD_SALT_LEN, iv, 8);
		if (EVP_EncryptInit_ex(x->cipher, NULL, NULL, NULL, nonce) != 1 ||
		    EVP_EncryptUpdate(x->cipher, NULL, &n, aad, (int)aad_len) != 1 ||
		    EVP_EncryptUpdate(x->cipher, data, &n, data, (int)pt_len) != 1 ||
		    EVP_EncryptFinal_ex(x->cipher, data + n, &fin) != 1 ||
		    EVP_CIPHER_CTX_ctrl(x->cipher, EVP_CTRL_AEAD_GET_TAG, x->icv_len, data + pt_len) != 1)
			return -EIO;
		return 0;
	}

	uint8_t mac[EVP_MAX_MD_SIZE];
	int rc;

	if (pt_len % x->block_len)
		return -EINVAL;
	if (EVP_EncryptInit_ex(x->cipher, NULL, NULL, NULL, iv) != 1 ||
	    EVP_EncryptUpdate(x->cipher, data, &n, data, (int)pt_len) != 1 ||
	    EVP_EncryptFinal_ex(x->cipher, data + n, &fin) != 1)
		return -EIO;
	rc = hmac_icv(x, pkt, OP_ESP_HDR_LEN + x->iv_len + pt_len, esn, seq_high, mac);
	if (rc)
		return rc;
	memcpy(data + pt_len, mac, x->icv_len);
	return 0;
}

int op_xform_open(struct op_xform *x, const uint8_t *pkt, size_t ct_len, bool esn, uint32_t seq_high, uint8_t *out)
{
	const uint8_t *iv = pkt + OP_ESP_HDR_LEN;
	const uint8_t *data = iv + x->iv_len;
	const uint8_t *icv = data + ct_len;
	int n = 0, fin = 0;

	if (x->encrypt || ct_len > INT32_MAX)
		return -EINVAL;
	if (x->kind == OP_XFORM_AEAD) {
		uint8_t nonce[12], aad[12], tag[16];
		size_t aad_len = aead_aad(pkt, esn, seq_high, aad);

		memcpy(nonce, x->salt, OP_AEAD_SALT_LEN);
		memcpy(nonce + OP_AEAD_SALT_LEN, iv, 8);
		memcpy(tag, icv, x->icv_len);
		if (EVP_DecryptInit_ex(x->cipher, NULL, NULL, NULL, nonce) != 1 ||
		    EVP_CIPHER_CTX_ctrl(x->cipher, EVP_CTRL_AEAD_SET_TAG, x->icv_len, tag) != 1 ||
		    EVP_DecryptUpdate(x->cipher, NULL, &n, aad, (int)aad_len) != 1 ||
		    EVP_DecryptUpdate(x->cipher, out, &n, data, (int)ct_len) != 1)
			return -EIO;
		if (EVP_DecryptFinal_ex(x->cipher, out + n, &fin) != 1)
			return -EBADMSG;
		return 0;
	}

	uint8_t mac[EVP_MAX_MD_SIZE];
	int rc = hmac_icv(x, pkt, OP_ESP_HDR_LEN + x->iv_len + ct_len, esn, seq_high, mac);

	if (rc)
		return rc;
	/* Authenticate before decrypting: CBC must never see forged ciphertext (no padding oracle). */
	if (CRYPTO_memcmp(mac, icv, x->icv_len) != 0)
		return -EBADMSG;
	if (ct_len % x->block_len)
		return -EINVAL;
	if (EVP_DecryptInit_ex(x->cipher, NULL, NULL, NULL, iv) != 1 ||
	    EVP_DecryptUpdate(x->cipher, out, &n, data, (int)ct_len) != 1 ||
	    EVP_DecryptFinal_ex(x->cipher, out + n, &fin) != 1)
		return -EIO;
	return 0;
}
