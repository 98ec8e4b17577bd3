import { describeKvParity, KV_ARCHS } from './kv-parity.js';

// The kv-cache fixtures compiled by AOTInductor: the same greedy tokens as transformers (kv-parity.ts).
describeKvParity(KV_ARCHS.map((arch) => `${arch}-kv-aoti`));
