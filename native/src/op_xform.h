/* ESP cryptographic transforms over OpenSSL EVP: AES-GCM (RFC 4106), ChaCha20-Poly1305 (RFC 7634), AES-CBC + HMAC-SHA2 (RFC 3602, RFC 4868). */
#ifndef OP_XFORM_H
#define OP_XFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* IANA IKEv2 transform ids, as the engine passes them (RFC 7296 §3.3.2). */
enum {
	OP_ENCR_AES_CBC = 12,
	OP_ENCR_AES_GCM_8 = 18,
	OP_ENCR_AES_GCM_12 = 19,
	OP_ENCR_AES_GCM_16 = 20,
	OP_ENCR_CHACHA20_POLY1305 = 28,
};

enum {
	OP_INTEG_NONE = 0,
	OP_INTEG_HMAC_SHA2_256_128 = 12,
	OP_INTEG_HMAC_SHA2_384_192 = 13,
	OP_INTEG_HMAC_SHA2_512_256 = 14,
};

enum op_xform_kind { OP_XFORM_AEAD, OP_XFORM_CBC_HMAC };

#define OP_ESP_HDR_LEN 8
#define OP_AEAD_SALT_LEN 4
#define OP_MAX_IV_LEN 16
#define OP_MAX_ICV_LEN 32

struct op_xform {
	enum op_xform_kind kind;
	bool encrypt;            /* contexts are keyed for one direction only, like the SA */
	EVP_CIPHER_CTX *cipher;
	EVP_MAC_CTX *mac;        /* CBC + HMAC only */
	uint8_t salt[OP_AEAD_SALT_LEN];
	uint8_t iv_len;          /* octets on the wire */
	uint8_t icv_len;
	uint8_t block_len;       /* the plaintext plus trailer is padded to this (RFC 4303 §2.4) */
};

struct op_xform_params {
	uint16_t encr_id;
	uint16_t encr_key_bits;  /* 0 when the transform has a fixed key size */
	const uint8_t *enc_key;  /* key || 4-octet salt for AEAD */
	size_t enc_key_len;
	uint16_t integ_id;
	const uint8_t *integ_key;
	size_t integ_key_len;
};

/* -EINVAL for wrong key lengths or combinations, -EOPNOTSUPP for transforms this data plane lacks. */
int op_xform_init(struct op_xform *x, const struct op_xform_params *p, bool encrypt);
void op_xform_free(struct op_xform *x);

/*
 * pkt holds SPI || Seq (8 octets), the IV, then `pt_len` octets of padded plaintext, encrypted in place;
 * the ICV is written right after. seq_high is the ESN's upper half, used only when esn is set (RFC 4303 §2.2.1).
 */
int op_xform_seal(struct op_xform *x, uint8_t *pkt, size_t pt_len, bool esn, uint32_t seq_high);

/* Authenticates pkt (header, IV, `ct_len` octets of ciphertext, ICV) and decrypts into out; -EBADMSG on a bad ICV. */
int op_xform_open(struct op_xform *x, const uint8_t *pkt, size_t ct_len, bool esn, uint32_t seq_high, uint8_t *out);

#endif
