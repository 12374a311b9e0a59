// The IKEv2 wire codec's public API (RFC 7296 §3, RFC 7383): decode/encode messages, seal/open SK, fragments.
export { peekHeader, decodeHeader, encodeHeader, HEADER_LEN } from './header.ts';
export { decodeMessage, encodeMessage, decodePayloads, encodePayloads, type HeaderFields } from './message.ts';
export { sealSk, openSk } from './protect.ts';
export { sealFragments, FragmentReassembler, type ReassemblerLimits } from './fragment.ts';
export { payloadName } from './registry.ts';
export { caHashes } from './certreq.ts';
export type * from './types.ts';
