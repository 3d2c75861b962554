// namesmith.js: a namesmith model in the browser, in Node or in a game's JavaScript, with no server.
//
// The reference implementation of the export format (docs/export-format.md): it reads the
// document that `namesmith export MODEL --json FILE` (or `--web DIR`, as model.js) writes and
// samples, scores and classifies names exactly as namesmith's Python sampler does: the same
// next-character distributions (to float32 rounding), the same decoding rules, the same
// per-name random streams (SplitMix64), so a seed gives the same names as
// `namesmith sample MODEL --seed S` wherever the two agree to the last bit.
//
//   import { load } from "./namesmith.js";
//   const model = await load("model.json");            // a URL, the document's text or object, or bytes
//   model.sample({ n: 5, seed: 1, prefix: "ka" });     // [{name, display, logprob, nats_per_char, novel, seed}]
//   model.score("Kara");                               // {logprob, nats_per_char, surprisal: [{char, nats}], ...}
//   model.classify("Giuseppe");                        // {style, probability, styles: {Italian: 0.9, ...}}
//
// Option names are the Python API's (n, temperature, top_k, top_p, prefix, suffix, contains,
// pattern, min_len, max_len, exclude_chars, only_chars, novel, unique, fold_accents, max_tries,
// seed, style, style_strength, any_char); `pattern` is a JavaScript regular expression.
"use strict";

export const FORMAT = "namesmith-model";
export const VERSION = 1;
const NONE = -1; // no symbol: history positions before the start symbol
const GUIDE_FLOOR = Math.log(1e-3); // as models/mixture.py: letters the style finds rarer keep its probability
const MAX_BATCH = 512; // candidates stepped together

export class NamesmithError extends Error {
  constructor(message) { super(message); this.name = "NamesmithError"; }
}
const fail = (message) => { throw new NamesmithError(message); };

// ----- the document's arrays ----------------------------------------------------------------------
const DTYPES = { float32: Float32Array, float64: Float64Array, uint8: Uint8Array, uint16: Uint16Array,
                 uint32: Uint32Array, int32: Int32Array, uint64: BigUint64Array, int64: BigInt64Array };

function bytesOf(b64) {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(b64); // newer engines: native
  const text = atob(b64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function readArray(a) {
  const T = DTYPES[a && a.dtype];
  if (!T) fail(`unknown array type ${a && a.dtype}`);
  const bytes = bytesOf(a.data);
  const n = a.shape.reduce((x, y) => x * y, 1);
  if (bytes.length !== n * T.BYTES_PER_ELEMENT) fail("an array's data does not match its shape");
  const out = new T(bytes.buffer, 0, n); // little-endian: every engine this runs on
  out.shape = a.shape;
  return out;
}

// ----- random streams (namesmith/rng.py) -------------------------------------------------------------
const M64 = (1n << 64n) - 1n;
const GAMMA = 0x9E3779B97F4A7C15n, MIX1 = 0xBF58476D1CE4E5B9n, MIX2 = 0x94D049BB133111EBn;
const SEED_MASK = (1n << 53n) - 1n;

export function mix64(z) {
  z = ((z ^ (z >> 30n)) * MIX1) & M64;
  z = ((z ^ (z >> 27n)) * MIX2) & M64;
  return z ^ (z >> 31n);
}

/** Draw t (0-based) of the stream of a seed whose mix64 is `mixed`: a uniform float in (0, 1). */
export function uniform(mixed, t) {
  const bits = mix64((mixed + ((BigInt(t + 1) * GAMMA) & M64)) & M64) >> 11n;
  return (Number(bits) + 0.5) / 9007199254740992;
}

/** Seeds of names start .. start+count-1 of a run seeded with `seed` (name 0's seed is the run's). */
export function childSeeds(seed, start, count) {
  const s = BigInt(seed), out = new Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = Number(mix64(s ^ mix64((BigInt(start + i) + GAMMA) & M64)) & SEED_MASK);
  }
  if (start === 0 && count) out[0] = Number(s & SEED_MASK);
  return out;
}

function freshSeed() {
  const w = new Uint32Array(2);
  globalThis.crypto.getRandomValues(w);
  return (w[0] & 0x1fffff) * 4294967296 + w[1];
}

// ----- BLAKE2b with an 8-byte digest: the hashes of the training names (namesmith/corpus.py) -----------
// 64-bit words as (low, high) pairs of 32-bit numbers, as RFC 7693's reference code does in C.
const IV32 = new Uint32Array([0xf3bcc908, 0x6a09e667, 0x84caa73b, 0xbb67ae85, 0xfe94f82b, 0x3c6ef372,
  0x5f1d36f1, 0xa54ff53a, 0xade682d1, 0x510e527f, 0x2b3e6c1f, 0x9b05688c, 0xfb41bd6b, 0x1f83d9ab,
  0x137e2179, 0x5be0cd19]);
const SIGMA = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4], [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13], [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11], [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5], [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0]];
const V32 = new Uint32Array(32), M32 = new Uint32Array(32), H32 = new Uint32Array(16);
const utf8 = new TextEncoder();

function add64(v, a, b0, b1) { // v[a] += (b1:b0), modulo 2^64
  const lo = v[a] + b0;
  v[a + 1] = v[a + 1] + b1 + (lo >= 0x100000000 ? 1 : 0);
  v[a] = lo;
}

function mixG(v, m, a, b, c, d, x, y) { // BLAKE2b's G on words a, b, c, d (pair indices) with message words x, y
  add64(v, a, v[b], v[b + 1]); add64(v, a, m[x], m[x + 1]);
  let lo = v[d] ^ v[a], hi = v[d + 1] ^ v[a + 1];
  v[d] = hi; v[d + 1] = lo; // rotate right 32
  add64(v, c, v[d], v[d + 1]);
  lo = v[b] ^ v[c]; hi = v[b + 1] ^ v[c + 1];
  v[b] = (lo >>> 24) ^ (hi << 8); v[b + 1] = (hi >>> 24) ^ (lo << 8); // 24
  add64(v, a, v[b], v[b + 1]); add64(v, a, m[y], m[y + 1]);
  lo = v[d] ^ v[a]; hi = v[d + 1] ^ v[a + 1];
  v[d] = (lo >>> 16) ^ (hi << 16); v[d + 1] = (hi >>> 16) ^ (lo << 16); // 16
  add64(v, c, v[d], v[d + 1]);
  lo = v[b] ^ v[c]; hi = v[b + 1] ^ v[c + 1];
  v[b] = (hi >>> 31) ^ (lo << 1); v[b + 1] = (lo >>> 31) ^ (hi << 1); // 63
}

/** BLAKE2b with digest_size 8 of a string's UTF-8 bytes, as [low, high] 32-bit halves of hashlib's "<u8". */
export function blake2b64(text) {
  const msg = utf8.encode(text), h = H32, v = V32, m = M32;
  h.set(IV32);
  h[0] ^= 0x01010008; // digest length 8, no key, fanout 1, depth 1
  const blocks = Math.max(1, Math.ceil(msg.length / 128));
  for (let blk = 0; blk < blocks; blk++) {
    m.fill(0);
    const part = msg.subarray(blk * 128, (blk + 1) * 128);
    for (let i = 0; i < part.length; i++) m[i >> 2] |= part[i] << (8 * (i & 3));
    v.set(h); v.set(IV32, 16);
    const last = blk === blocks - 1;
    v[24] ^= last ? msg.length : (blk + 1) * 128; // the byte counter (names are far below 2^32 bytes)
    if (last) { v[28] = ~v[28]; v[29] = ~v[29]; }
    for (let r = 0; r < 12; r++) {
      const s = SIGMA[r % 10];
      mixG(v, m, 0, 8, 16, 24, 2 * s[0], 2 * s[1]); mixG(v, m, 2, 10, 18, 26, 2 * s[2], 2 * s[3]);
      mixG(v, m, 4, 12, 20, 28, 2 * s[4], 2 * s[5]); mixG(v, m, 6, 14, 22, 30, 2 * s[6], 2 * s[7]);
      mixG(v, m, 0, 10, 20, 30, 2 * s[8], 2 * s[9]); mixG(v, m, 2, 12, 22, 24, 2 * s[10], 2 * s[11]);
      mixG(v, m, 4, 14, 16, 26, 2 * s[12], 2 * s[13]); mixG(v, m, 6, 8, 18, 28, 2 * s[14], 2 * s[15]);
    }
    for (let i = 0; i < 16; i++) h[i] ^= v[i] ^ v[i + 16];
  }
  return [h[0], h[1]];
}

// ----- steppers: (ids, state) -> log-probabilities (B, V), the contract of models/base.py -------------
// A state is a list of {w, data} (B rows of w numbers each); select() keeps some rows.
function selectState(state, rows) {
  return state.map(({ w, data }) => {
    const out = new data.constructor(rows.length * w);
    for (let i = 0; i < rows.length; i++) out.set(data.subarray(rows[i] * w, rows[i] * w + w), i * w);
    return { w, data: out };
  });
}

function logSoftmaxRows(z, B, V) {
  for (let b = 0; b < B; b++) {
    let top = -Infinity;
    for (let j = 0; j < V; j++) if (z[b * V + j] > top) top = z[b * V + j];
    let s = 0;
    for (let j = 0; j < V; j++) s += Math.exp(z[b * V + j] - top);
    const lse = top + Math.log(s);
    for (let j = 0; j < V; j++) z[b * V + j] -= lse;
  }
  return z;
}

// out (B, N) = A (B, K) W^T + bias, W (N, K) row-major: four rows of A share each row of W
function matmulT(A, B, K, W, N, bias, out) {
  let b = 0;
  for (; b + 4 <= B; b += 4) {
    const a0 = b * K, a1 = a0 + K, a2 = a1 + K, a3 = a2 + K;
    for (let j = 0; j < N; j++) {
      const w0 = j * K;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0; k < K; k++) {
        const w = W[w0 + k];
        s0 += A[a0 + k] * w; s1 += A[a1 + k] * w; s2 += A[a2 + k] * w; s3 += A[a3 + k] * w;
      }
      const c = bias ? bias[j] : 0;
      out[b * N + j] = s0 + c; out[(b + 1) * N + j] = s1 + c; out[(b + 2) * N + j] = s2 + c; out[(b + 3) * N + j] = s3 + c;
    }
  }
  for (; b < B; b++) {
    const a0 = b * K;
    for (let j = 0; j < N; j++) {
      let s = 0;
      const w0 = j * K;
      for (let k = 0; k < K; k++) s += A[a0 + k] * W[w0 + k];
      out[b * N + j] = s + (bias ? bias[j] : 0);
    }
  }
  return out;
}

// ----- the same step in WebAssembly SIMD (f32x4), where the engine has it: a network's time goes here -----
// The module is assembled below from its instructions (no binary is shipped); `useKernel("js")` forces the
// plain JavaScript above, and the tests check both against NumPy. Functions (byte addresses; B rows, H a
// multiple of 4, as every size the WebAssembly path is used for):
//   mm(A, B, K, W, N, OUT)        OUT[b, j] = sum_k A[b, k] W[j, k]     (B a multiple of 4: four rows per W row)
//   lstm(X, P, C, HO, CO, B, H)   [i f g o] = X + P; CO = f C + i g; HO = o tanh(CO)
//   gru(X, P, HP, BN, HO, B, H)   r, z = sigmoid(X + P); n = tanh(Xn + r (Pn + BN)); HO = n + z (HP - n)
//   rnn(X, P, HO, B, H)           HO = tanh(X + P)
// exp(v) = 2^k p(r), k = round(v log2 e), r = v - k ln 2, p the degree-7 polynomial of Cephes' expf (relative
// error below 2e-7 in float32); sigmoid(v) = 1 / (1 + exp(-v)), tanh(v) = 2 / (1 + exp(-2v)) - 1.
export function wasmModule() {
  const uleb = (n) => { const out = []; do { let x = n & 0x7f; n >>>= 7; if (n) x |= 0x80; out.push(x); } while (n); return out; };
  const sleb = (n) => { const out = []; for (;;) { const x = n & 0x7f; n >>= 7; if ((n === 0 && !(x & 0x40)) || (n === -1 && (x & 0x40))) { out.push(x); return out; } out.push(x | 0x80); } };
  const I = (n) => [0x41, ...sleb(n)], F = (x) => [0x43, ...new Uint8Array(Float32Array.of(x).buffer)];
  const S = (op) => [0xfd, ...uleb(op)]; // a SIMD instruction
  const [iadd, imul, ishl, idiv, irem, igeu] = [[0x6a], [0x6c], [0x74], [0x6e], [0x70], [0x4f]];
  const [vadd, vsub, vmul, vdiv, vmin, vmax, vneg] = [0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xe1].map(S);
  const splat = (x) => [...F(x), ...S(0x13)];
  function func(params, ints, vecs, body) {
    const names = [...params, ...ints, ...vecs], L = Object.fromEntries(names.map((n, i) => [n, i]));
    const get = (n) => [0x20, L[n]], set = (n) => [0x21, L[n]];
    const a = { get, set, at: (base, off) => [...get(base), ...off, ...iadd],
      vld: (addr) => [...addr, ...S(0x00), 0x02, 0x00], vst: (addr, v) => [...addr, ...v, ...S(0x0b), 0x02, 0x00],
      loop: (exit, code) => [0x02, 0x40, 0x03, 0x40, ...exit, 0x0d, 1, ...code, 0x0c, 0, 0x0b, 0x0b],
      inc: (n, by) => [...get(n), ...by, ...iadd, ...set(n)] };
    a.exp = (v) => [...v, ...splat(88), ...vmin, ...splat(-87), ...vmax, ...set("ex"),
      ...get("ex"), ...splat(Math.LOG2E), ...vmul, ...S(0x6a), ...set("ek"), // nearest
      ...get("ex"), ...get("ek"), ...splat(0.693359375), ...vmul, ...vsub, ...get("ek"), ...splat(-2.12194440e-4),
      ...vmul, ...vsub, ...set("er"),
      ...splat(1.9875691500e-4), ...[1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
        5.0000001201e-1].flatMap((c) => [...get("er"), ...vmul, ...splat(c), ...vadd]),
      ...get("er"), ...vmul, ...get("er"), ...vmul, ...get("er"), ...vadd, ...splat(1), ...vadd,
      ...get("ek"), ...S(0xf8), ...I(127), ...S(0x11), ...S(0xae), ...I(23), ...S(0xab), ...vmul]; // * 2^k
    a.sigmoid = (v) => [...splat(1), ...splat(1), ...a.exp([...v, ...vneg]), ...vadd, ...vdiv];
    a.tanh = (v) => [...splat(2), ...splat(1), ...a.exp([...v, ...splat(-2), ...vmul]), ...vadd, ...vdiv, ...splat(1), ...vsub];
    const code = body(a);
    return { params: params.length, locals: [0x02, ...uleb(ints.length), 0x7f, ...uleb(vecs.length + 3), 0x7b], code };
  }
  const expVecs = ["ex", "ek", "er"];
  const mm = func(["A", "B", "K", "W", "N", "OUT"], ["b", "j", "p0", "p1", "p2", "p3", "pw", "wend", "rb", "o"],
    [...expVecs, "a0", "a1", "a2", "a3", "wv"], ({ get, set, vld, loop, inc }) => {
      const rows = [0, 1, 2, 3], ptr = (r) => `p${r}`, acc = (r) => `a${r}`;
      const hsum = (r) => [...get(acc(r)), ...S(0x1f), 0, ...[1, 2, 3].flatMap((l) => [...get(acc(r)), ...S(0x1f), l, 0x92])];
      return [...get("K"), ...I(2), ...ishl, ...set("rb"), ...I(0), ...set("b"),
        ...loop([...get("b"), ...get("B"), ...igeu], [...I(0), ...set("j"),
          ...loop([...get("j"), ...get("N"), ...igeu], [
            ...get("W"), ...get("j"), ...get("rb"), ...imul, ...iadd, ...set("pw"),
            ...get("pw"), ...get("rb"), ...iadd, ...set("wend"),
            ...get("A"), ...get("b"), ...get("rb"), ...imul, ...iadd, ...set("p0"),
            ...[1, 2, 3].flatMap((r) => [...get(ptr(r - 1)), ...get("rb"), ...iadd, ...set(ptr(r))]),
            ...rows.flatMap((r) => [...S(0x0c), ...new Array(16).fill(0), ...set(acc(r))]),
            ...loop([...get("pw"), ...get("wend"), ...igeu], [...vld(get("pw")), ...set("wv"),
              ...rows.flatMap((r) => [...get(acc(r)), ...vld(get(ptr(r))), ...get("wv"), ...vmul, ...vadd, ...set(acc(r))]),
              ...["pw", ...rows.map(ptr)].flatMap((n) => inc(n, I(16)))]),
            ...get("OUT"), ...get("b"), ...get("N"), ...imul, ...get("j"), ...iadd, ...I(2), ...ishl, ...iadd, ...set("o"),
            ...rows.flatMap((r) => [...get("o"), ...hsum(r), 0x38, 0x02, 0x00, ...inc("o", [...get("N"), ...I(2), ...ishl])]),
            ...inc("j", I(1))]),
          ...inc("b", I(4))])];
    });
  // the cells: e runs over the B*H units four at a time; g is a unit's first gate's byte offset in its row of gates
  const gate = (a, gates) => [...a.get("e"), ...a.get("H"), ...idiv, ...I(gates), ...imul, ...a.get("H"), ...imul,
    ...a.get("e"), ...a.get("H"), ...irem, ...iadd, ...I(2), ...ishl, ...a.set("g")];
  const units = (a, body) => [...a.get("B"), ...a.get("H"), ...imul, ...a.set("n"), ...a.get("H"), ...I(2), ...ishl,
    ...a.set("hb"), ...I(0), ...a.set("e"),
    ...a.loop([...a.get("e"), ...a.get("n"), ...igeu], [...a.get("e"), ...I(2), ...ishl, ...a.set("u"), ...body,
      ...a.inc("e", I(4))])];
  const pre = (a, k) => { // X + P at gate k of this unit
    const off = (base) => [...a.get(base), ...a.get("g"), ...iadd, ...a.get("hb"), ...I(k), ...imul, ...iadd];
    return [...a.vld(off("X")), ...a.vld(off("P")), ...vadd];
  };
  const ints = ["n", "hb", "e", "u", "g"];
  const lstm = func(["X", "P", "C", "HO", "CO", "B", "H"], ints, [...expVecs, "i", "f", "c"], (a) => units(a, [
    ...gate(a, 4), ...a.sigmoid(pre(a, 0)), ...a.set("i"), ...a.sigmoid(pre(a, 1)), ...a.set("f"),
    ...a.get("f"), ...a.vld(a.at("C", a.get("u"))), ...vmul, ...a.get("i"), ...a.tanh(pre(a, 2)), ...vmul, ...vadd,
    ...a.set("c"), ...a.vst(a.at("CO", a.get("u")), a.get("c")),
    ...a.vst(a.at("HO", a.get("u")), [...a.sigmoid(pre(a, 3)), ...a.tanh(a.get("c")), ...vmul])]));
  const gru = func(["X", "P", "HP", "BN", "HO", "B", "H"], [...ints, "m"], [...expVecs, "r", "z", "nn"], (a) => units(a, [
    ...gate(a, 3), ...a.get("e"), ...a.get("H"), ...irem, ...I(2), ...ishl, ...a.set("m"),
    ...a.sigmoid(pre(a, 0)), ...a.set("r"), ...a.sigmoid(pre(a, 1)), ...a.set("z"),
    ...a.tanh([...a.vld([...a.get("X"), ...a.get("g"), ...a.get("hb"), ...I(2), ...imul, ...iadd, ...iadd]),
      ...a.get("r"), ...a.vld([...a.get("P"), ...a.get("g"), ...a.get("hb"), ...I(2), ...imul, ...iadd, ...iadd]),
      ...a.vld(a.at("BN", a.get("m"))), ...vadd, ...vmul, ...vadd]), ...a.set("nn"),
    ...a.vst(a.at("HO", a.get("u")), [...a.get("nn"), ...a.get("z"), ...a.vld(a.at("HP", a.get("u"))), ...a.get("nn"),
      ...vsub, ...vmul, ...vadd])]));
  const rnn = func(["X", "P", "HO", "B", "H"], ints, expVecs, (a) => units(a, [
    ...a.vst(a.at("HO", a.get("u")), a.tanh([...a.vld(a.at("X", a.get("u"))), ...a.vld(a.at("P", a.get("u"))), ...vadd]))]));
  const fns = [["mm", mm], ["lstm", lstm], ["gru", gru], ["rnn", rnn]];
  const section = (id, bytes) => [id, ...uleb(bytes.length), ...bytes];
  const vec = (items) => [...uleb(items.length), ...items.flat()];
  const body = (f) => { const b = [...f.locals, ...f.code, 0x0b]; return [...uleb(b.length), ...b]; };
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(fns.map(([, f]) => [0x60, ...uleb(f.params), ...new Array(f.params).fill(0x7f), 0x00]))),
    ...section(2, [0x01, 0x01, 0x65, 0x01, 0x6d, 0x02, 0x00, 0x01]), // imports e.m: a memory of at least a page
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(7, vec(fns.map(([name], i) => [...uleb(name.length), ...new TextEncoder().encode(name), 0x00, ...uleb(i)]))),
    ...section(10, vec(fns.map(([, f]) => body(f))))]);
}

let KERNEL = "wasm"; // "js" forces the plain JavaScript step (the tests run both)
export function useKernel(kind) { KERNEL = kind; }
let MODULE = null; // compiled once, instantiated per network

class WasmNet {
  // one network's step in WebAssembly memory: its weights copied in once; per step the states in, states out
  constructor(net) {
    const { H, G, V, layers, arr } = net, B = MAX_BATCH;
    const regions = {};
    let at = 0;
    const take = (name, floats) => { regions[name] = at; at += 4 * floats; };
    this.w = new Map();
    const weights = [...layers.flatMap((l) => [l.Wh, l.Wx, l.bn].filter(Boolean)), arr.Wya];
    for (const w of weights) { this.w.set(w, at); at += 4 * w.length; }
    take("A", B * H); take("P", B * Math.max(G, V)); take("X", B * G); take("C", B * H); take("HO", B * H); take("CO", B * H);
    const memory = new WebAssembly.Memory({ initial: Math.ceil(at / 65536) + 1 });
    MODULE = MODULE || new WebAssembly.Module(wasmModule());
    this.fn = new WebAssembly.Instance(MODULE, { e: { m: memory } }).exports;
    this.f = new Float32Array(memory.buffer);
    for (const w of weights) this.f.set(w, this.w.get(w) / 4);
    Object.assign(this, { r: regions, net });
  }

  product(name, B, W, N) { // P = (row `name`, B x H) W^T, the rows padded to a multiple of 4
    const { f, r } = this, H = this.net.H, B4 = (B + 3) & ~3;
    f.fill(0, r[name] / 4 + B * H, r[name] / 4 + B4 * H);
    this.fn.mm(r[name], B4, H, this.w.get(W), N, r.P);
  }

  step(ids, state, table, outBias) {
    const { f, r, net } = this, { H, G, V, L, cell } = net, B = ids.length, n = cell.states.length, BH = B * H;
    const next = [];
    for (let l = 0; l < L; l++) {
      const layer = net.layers[l], X = r.X / 4;
      if (l === 0) for (let b = 0; b < B; b++) f.set(table.subarray(ids[b] * G, ids[b] * G + G), X + b * G);
      else { // X = h (in HO) Wx^T + b
        f.copyWithin(r.A / 4, r.HO / 4, r.HO / 4 + BH);
        this.product("A", B, layer.Wx, G);
        for (let b = 0; b < B; b++) for (let g = 0; g < G; g++) f[X + b * G + g] = f[r.P / 4 + b * G + g] + layer.b[g];
      }
      f.set(state[l * n].data, r.A / 4);
      this.product("A", B, layer.Wh, G);
      if (net.cell === CELLS.lstm) {
        f.set(state[l * n + 1].data, r.C / 4);
        this.fn.lstm(r.X, r.P, r.C, r.HO, r.CO, B, H);
      } else if (net.cell === CELLS.gru) this.fn.gru(r.X, r.P, r.A, this.w.get(layer.bn), r.HO, B, H);
      else this.fn.rnn(r.X, r.P, r.HO, B, H);
      next.push({ w: H, data: f.slice(r.HO / 4, r.HO / 4 + BH) });
      if (n === 2) next.push({ w: H, data: f.slice(r.CO / 4, r.CO / 4 + BH) });
    }
    f.copyWithin(r.A / 4, r.HO / 4, r.HO / 4 + BH);
    this.product("A", B, net.arr.Wya, V);
    const logits = new Float64Array(B * V), P = r.P / 4;
    for (let i = 0; i < B * V; i++) logits[i] = f[P + i] + outBias[i % V];
    return { logp: logSoftmaxRows(logits, B, V), state: next };
  }
}

/** Whether this engine runs the WebAssembly step (SIMD), or why not. */
export function wasmSupport() {
  try { MODULE = MODULE || new WebAssembly.Module(wasmModule()); return true; } catch (e) { return String(e); }
}

function wasmNet(net) {
  if (net.H % 4 || typeof WebAssembly === "undefined") return null;
  try { return new WasmNet(net); } catch (e) { return null; } // an engine without SIMD: the plain JavaScript step
}

const sigmoid = (x) => 1 / (1 + Math.exp(-x));
const tanh = (x) => (x > 20 ? 1 : x < -20 ? -1 : 1 - 2 / (Math.exp(2 * x) + 1)); // one exp, like sigmoid

// each cell: its parameter names (layer 0; layer l > 0 appends _l), gates per unit, its state parts, its step
const CELLS = {
  rnn: { Wx: "Wax", Wh: "Waa", b: "b", gates: 1, states: ["h0"],
    step(x, st, p, B, H, tmp) { // a = tanh(x + a_prev Waa^T)
      const a = tmp.mm(st[0], B, H, p.Wh, H, null, tmp.g);
      const h = new Float32Array(B * H);
      for (let i = 0; i < B * H; i++) h[i] = tanh(x[i] + a[i]);
      return [h];
    } },
  gru: { Wx: "Wx", Wh: "Wh", b: "b", gates: 3, states: ["h0"],
    step(x, st, p, B, H, tmp) { // r, z = sigmoid(x + gh); n = tanh(xn + r (hn + bn)); h = (1 - z) n + z h_prev
      const gh = tmp.mm(st[0], B, H, p.Wh, 3 * H, null, tmp.g), hp = st[0];
      const h = new Float32Array(B * H);
      for (let b = 0; b < B; b++) {
        const o = b * 3 * H;
        for (let i = 0; i < H; i++) {
          const r = sigmoid(x[o + i] + gh[o + i]), z = sigmoid(x[o + H + i] + gh[o + H + i]);
          const n = tanh(x[o + 2 * H + i] + r * (gh[o + 2 * H + i] + p.bn[i]));
          h[b * H + i] = (1 - z) * n + z * hp[b * H + i];
        }
      }
      return [h];
    } },
  lstm: { Wx: "Wx", Wh: "Wh", b: "b", gates: 4, states: ["h0", "c0"],
    step(x, st, p, B, H, tmp) { // [i f g o] = x + h_prev Wh^T; c = f c_prev + i g; h = o tanh(c)
      const a = tmp.mm(st[0], B, H, p.Wh, 4 * H, null, tmp.g), cp = st[1];
      const h = new Float32Array(B * H), c = new Float32Array(B * H);
      for (let b = 0; b < B; b++) {
        const o = b * 4 * H;
        for (let u = 0; u < H; u++) {
          // sigmoid(v) = 1 / (1 + e^-v), tanh(v) = 2 / (1 + e^-2v) - 1: one exp each, written out (the hot loop)
          const ig = 1 / (1 + Math.exp(-(x[o + u] + a[o + u]))), fg = 1 / (1 + Math.exp(-(x[o + H + u] + a[o + H + u])));
          const gg = 2 / (1 + Math.exp(-2 * (x[o + 2 * H + u] + a[o + 2 * H + u]))) - 1;
          const og = 1 / (1 + Math.exp(-(x[o + 3 * H + u] + a[o + 3 * H + u])));
          const cc = fg * cp[b * H + u] + ig * gg;
          c[b * H + u] = cc;
          h[b * H + u] = og * (2 / (1 + Math.exp(-2 * cc)) - 1);
        }
      }
      return [h, c];
    } },
};

class Network {
  constructor(node, V) {
    const cell = CELLS[node.type];
    Object.assign(this, { cell, V, L: node.layers, H: node.hidden, D: node.embed, S: node.styles });
    const arr = {};
    for (const [k, a] of Object.entries(node.arrays)) arr[k] = readArray(a);
    this.arr = arr;
    const key = (name, l) => (l === 0 ? name : `${name}_${l}`);
    const G = cell.gates * this.H;
    this.G = G;
    this.layers = [];
    for (let l = 0; l < this.L; l++) {
      this.layers.push({ Wx: arr[key(cell.Wx, l)], Wh: arr[key(cell.Wh, l)], b: arr[key(cell.b, l)],
                         bn: arr[key("bn", l)], init: cell.states.map((s) => arr[key(s, l)] || null) });
    }
    // layer 0's input projection for every id: E Wx^T + b, or (one-hot) Wx's columns + b, id 0 = b alone
    const l0 = this.layers[0], table = new Float32Array(V * G);
    if (this.D) matmulT(arr.E, V, this.D, l0.Wx, G, l0.b, table);
    else {
      for (let v = 0; v < V; v++) for (let g = 0; g < G; g++) table[v * G + g] = (v === 0 ? 0 : l0.Wx[g * V + v]) + l0.b[g];
    }
    this.table = table;
    this.wasm = wasmNet(this);
  }

  view(style) {
    const { V, G, S, arr } = this;
    const s = S ? (style === null || style === undefined ? S : style) : null;
    let table = this.table, outBias = arr.by;
    if (s !== null) { // the style's gate bias Sg[s] and output bias Sy[s], folded in
      table = this.table.slice();
      for (let v = 0; v < V; v++) for (let g = 0; g < G; g++) table[v * G + g] += arr.Sg[s * G + g];
      outBias = new Float32Array(V);
      for (let v = 0; v < V; v++) outBias[v] = arr.by[v] + arr.Sy[s * V + v];
    }
    const net = this;
    return {
      nState: this.L * this.cell.states.length,
      init(B) {
        const out = [];
        for (const layer of net.layers) {
          for (const init of layer.init) {
            const data = new Float32Array(B * net.H);
            if (init) for (let b = 0; b < B; b++) data.set(init, b * net.H);
            out.push({ w: net.H, data });
          }
        }
        return out;
      },
      step(ids, state) { return net.step(ids, state, table, outBias); },
    };
  }

  step(ids, state, table, outBias) {
    if (KERNEL === "wasm" && this.wasm && ids.length <= MAX_BATCH) return this.wasm.step(ids, state, table, outBias);
    const { V, H, G, cell } = this, B = ids.length, n = cell.states.length;
    let x = new Float32Array(B * G);
    for (let b = 0; b < B; b++) x.set(table.subarray(ids[b] * G, ids[b] * G + G), b * G);
    const tmp = { g: new Float64Array(B * G), mm: matmulT };
    const next = [];
    let h = null;
    this.layers.forEach((layer, l) => {
      if (l > 0) x = matmulT(h, B, H, layer.Wx, G, layer.b, new Float32Array(B * G));
      const parts = cell.step(x, state.slice(l * n, l * n + n).map((s) => s.data), layer, B, H, tmp);
      h = parts[0];
      for (const p of parts) next.push({ w: H, data: p });
    });
    const logits = matmulT(h, B, H, this.arr.Wya, V, outBias, new Float64Array(B * V));
    return { logp: logSoftmaxRows(logits, B, V), state: next };
  }
}

function exps(a) { // exp of each value, as float64 (a plain loop: TypedArray.from with a function is slow)
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Math.exp(a[i]);
  return out;
}

class NGram {
  // Kneser-Ney tables as a trie: order k's context key = (row of the context without its oldest symbol s in
  // order k-1) * (V + 1) + s + 1; P(w | h) = gamma(h) P(w | h') with the seen n-grams of h written over it
  constructor(node, V) {
    this.V = V;
    this.N = node.order;
    this.orders = node.orders.map((o) => {
      const count = readArray(o.count), first = new Uint32Array(count.length + 1);
      for (let i = 0; i < count.length; i++) first[i + 1] = first[i] + count[i];
      return { key: readArray(o.key), gamma: exps(readArray(o.bow)), first, symbol: readArray(o.symbol),
               prob: exps(readArray(o.logp)) };
    });
  }

  row(hist, o) { // write the next-symbol distribution of history hist (N-1 ids, oldest first) into o (V,)
    const { V, N } = this;
    o.fill(1 / V);
    let row = 0;
    for (let k = 1; k <= N; k++) {
      const t = this.orders[k - 1];
      if (k > 1) {
        const s = hist[N - k];
        if (s < 0) break;
        const want = row * (V + 1) + s + 1;
        let lo = 0, hi = t.key.length;
        while (lo < hi) { const mid = (lo + hi) >> 1; if (t.key[mid] < want) lo = mid + 1; else hi = mid; }
        if (lo >= t.key.length || t.key[lo] !== want) break;
        row = lo;
      } else if (!t.key.length) break;
      const gamma = t.gamma[row];
      for (let j = 0; j < V; j++) o[j] *= gamma;
      for (let i = t.first[row]; i < t.first[row + 1]; i++) o[t.symbol[i]] = t.prob[i];
    }
    for (let j = 0; j < V; j++) o[j] = Math.log(o[j]);
  }

  view() {
    const ng = this, w = Math.max(this.N - 1, 1);
    return {
      nState: 1,
      init(B) { return [{ w, data: new Int32Array(B * w).fill(NONE) }]; },
      step(ids, state) {
        const B = ids.length, V = ng.V, old = state[0].data, hist = new Int32Array(B * w);
        const logp = new Float64Array(B * V);
        for (let b = 0; b < B; b++) {
          if (ng.N > 1) { hist.set(old.subarray(b * w + 1, b * w + w), b * w); hist[b * w + w - 1] = ids[b]; }
          ng.row(hist.subarray(b * w, b * w + w), logp.subarray(b * V, b * V + V));
        }
        return { logp, state: [{ w, data: hist }] };
      },
    };
  }
}

function blend(parts, weights) { // log sum_i w_i P_i; parts with weight 0 dropped
  const keep = weights.map((w, i) => [w, parts[i]]).filter(([w]) => w > 0);
  if (keep.length === 1) return keep[0][1];
  const logw = keep.map(([w]) => Math.log(w)), views = keep.map(([, p]) => p);
  return combine(views, (outs, B, V) => {
    const out = new Float64Array(B * V);
    for (let i = 0; i < B * V; i++) {
      let top = -Infinity;
      for (let c = 0; c < views.length; c++) top = Math.max(top, outs[c][i] + logw[c]);
      if (top === -Infinity) { out[i] = -Infinity; continue; }
      let s = 0;
      for (let c = 0; c < views.length; c++) s += Math.exp(outs[c][i] + logw[c] - top);
      out[i] = top + Math.log(s);
    }
    return out;
  });
}

function guided(styles, weights, pooled, g) { // models/mixture.py Guided: each style against the pooled pass
  const keep = weights.map((w, i) => [w, styles[i]]).filter(([w]) => w > 0);
  const total = keep.reduce((a, [w]) => a + w, 0);
  const logw = keep.map(([w]) => Math.log(w / total)), views = [...keep.map(([, s]) => s), pooled];
  return combine(views, (outs, B, V) => {
    const lq = outs[outs.length - 1], out = new Float64Array(B * V).fill(-Infinity), one = new Float64Array(V);
    for (let c = 0; c < logw.length; c++) {
      const ls = outs[c];
      for (let b = 0; b < B; b++) {
        const o = b * V;
        let top = -Infinity;
        for (let j = 1; j < V; j++) {
          one[j] = ls[o + j] < GUIDE_FLOOR ? ls[o + j] : (1 + g) * ls[o + j] - g * lq[o + j];
          if (one[j] > top) top = one[j];
        }
        let s = 0;
        for (let j = 1; j < V; j++) s += Math.exp(one[j] - top);
        const rest = Math.log1p(-Math.exp(ls[o])) - top - Math.log(s);
        one[0] = ls[o];
        for (let j = 1; j < V; j++) one[j] += rest;
        for (let j = 0; j < V; j++) {
          const x = one[j] + logw[c], y = out[o + j];
          out[o + j] = y === -Infinity ? x : x === -Infinity ? y : Math.max(x, y) + Math.log1p(Math.exp(-Math.abs(x - y)));
        }
      }
    }
    return out;
  });
}

function combine(views, mix) { // a stepper over several steppers' states, mixing their outputs
  return {
    nState: views.reduce((a, v) => a + v.nState, 0),
    init(B) { return views.flatMap((v) => v.init(B)); },
    step(ids, state) {
      const outs = [], next = [];
      let i = 0;
      for (const v of views) {
        const r = v.step(ids, state.slice(i, i + v.nState));
        i += v.nState;
        outs.push(r.logp);
        next.push(...r.state);
      }
      return { logp: mix(outs, ids.length, outs[0].length / ids.length), state: next };
    },
  };
}

// the model tree: build(node) -> an object whose view(style) is a stepper (style null: no style)
const BUILDERS = {
  rnn: (n, V) => new Network(n, V), gru: (n, V) => new Network(n, V), lstm: (n, V) => new Network(n, V),
  ngram: (n, V) => new NGram(n, V),
  "ngram-styled": (n, V) => {
    const pooled = new NGram(n.pooled, V), parts = n.parts.map((p) => new NGram(p, V));
    return { view: (s) => (s === null || s === undefined || s >= parts.length ? pooled.view()
      : blend([parts[s].view(), pooled.view()], [n.weights[s], 1 - n.weights[s]])) };
  },
  mixture: (n, V) => {
    const parts = n.components.map((c) => build(c, V));
    return { view: (s) => {
      const w = n.style_weights && s !== null && s !== undefined ? n.style_weights[s] : n.weights;
      return blend(parts.map((p) => p.view(s)), w);
    } };
  },
};

function build(node, V) {
  const make = BUILDERS[node && node.type];
  if (!make) fail(`this namesmith.js cannot run a ${node && node.type} model`);
  return make(node, V);
}

// ----- decoding (namesmith/decoding.py) -----------------------------------------------------------------
function nextSymbol(lp, mask, opts, u, z, order) {
  // lp (V,) log-probabilities; z, order scratch (V,). Returns the chosen id.
  const V = lp.length;
  let top = -Infinity, arg = 0;
  for (let j = 0; j < V; j++) if (mask[j] && lp[j] > top) { top = lp[j]; arg = j; }
  if (opts.temperature === 0) return arg;
  for (let j = 0; j < V; j++) z[j] = mask[j] ? (lp[j] - top) / opts.temperature : -Infinity;
  if (opts.top_k !== null && opts.top_k < V) {
    const sorted = Float64Array.from(z).sort();
    const kth = sorted[V - opts.top_k];
    for (let j = 0; j < V; j++) if (z[j] < kth) z[j] = -Infinity;
  }
  for (let j = 0; j < V; j++) z[j] = Math.exp(z[j]);
  if (opts.top_p !== null && opts.top_p < 1) {
    for (let j = 0; j < V; j++) order[j] = j;
    const idx = Array.from(order).sort((a, b) => z[b] - z[a]); // stable: ties keep their order
    let total = 0;
    for (let j = 0; j < V; j++) total += z[j];
    let cum = 0;
    for (const j of idx) { const p = z[j]; if (cum >= opts.top_p * total) z[j] = 0; cum += p; }
  }
  let total = 0;
  for (let j = 0; j < V; j++) total += z[j];
  const want = u * total;
  let cum = 0, n = 0;
  for (let j = 0; j < V; j++) { cum += z[j]; if (cum < want) n++; }
  return Math.min(n, V - 1);
}

// ----- text (namesmith/text.py) ----------------------------------------------------------------------------
let PARTICLES = new Set(); // text.PARTICLES, from the exported document (lowercase after the first part)
const capitalParts = (word) => {
  let out = "", start = true;
  for (const c of word) { out += start && c !== c.toUpperCase() ? c.toUpperCase() : c; start = c === "-"; }
  return out;
};
export const capitalised = (name) => name.split(" ").map((w, i) => (i && PARTICLES.has(w) ? w : capitalParts(w))).join(" ");
const foldChar = (c) => c.normalize("NFKD").replace(/\p{M}/gu, "");

// ----- the model ---------------------------------------------------------------------------------------------
// ----- offensive names (offensive.py: the same rules, with the tables the export computed) ---------------------
class OffensiveFilter {
  constructor(t) {
    this.whole = new Set(t.whole);
    this.embed = new Map(Object.entries(t.embed)); // word -> the places it is unambiguous in: s, m, e
    this.real = new Set(t.real); // real names that match: a whole match of one is real, an embedded one none
    this.leet = t.leet;
    this.sizes = [...new Set([...this.embed.keys()].map((w) => [...w].length))].sort((a, b) => a - b);
  }

  key(text) { // accents folded, lowercased, leetspeak read as letters, only letters kept
    let out = "";
    for (const c of text.normalize("NFKD").replace(/\p{M}+/gu, "").toLowerCase()) {
      const x = this.leet[c] === undefined ? c : this.leet[c];
      if (/\p{L}/u.test(x)) out += x;
    }
    return out;
  }

  variants(key) { // as written, repeated letters as one, and as two
    if (!/(.)\1/u.test(key)) return [key];
    return [...new Set([key, key.replace(/(.)\1+/gu, "$1"), key.replace(/(.)\1{2,}/gu, "$1$1")])];
  }

  wholeMatch(name) {
    const parts = name.includes(" ") || name.includes("-") ? [name, ...name.split(/[\s\-]+/u)] : [name];
    for (const part of parts) for (const k of this.variants(this.key(part))) if (this.whole.has(k)) return k;
    return null;
  }

  embeddedMatch(name) {
    for (const k of this.variants(this.key(name))) {
      const chars = [...k], n = chars.length;
      for (const size of this.sizes) {
        if (size >= n) break;
        for (let start = 0; start + size <= n; start++) {
          const word = chars.slice(start, start + size).join(""), places = this.embed.get(word);
          if (places === undefined) continue;
          const place = start === 0 ? "s" : start + size === n ? "e" : "m";
          if (places.includes(place)) return word;
        }
      }
    }
    return null;
  }

  check(name, known = false) { // {how, word, real} or null
    const w = this.wholeMatch(name);
    if (w !== null) return { how: "whole", word: w, real: known || this.real.has(name.toLowerCase()) };
    const e = this.embeddedMatch(name);
    return e === null || known || this.real.has(name.toLowerCase()) ? null : { how: "embedded", word: e, real: false };
  }

  rejects(name, mode, known) {
    if (mode === "allow") return false;
    const v = this.check(name, known);
    return v !== null && !(v.real && mode === "block");
  }

  flag(name) { // what score and classify say (they flag, never refuse)
    const v = this.check(name);
    if (v === null) return null;
    if (v.how === "embedded") return "holds an offensive word";
    return v.real ? "a real name, also an offensive word" : "an offensive word";
  }
}

export class Model {
  constructor(doc) {
    if (!doc || doc.format !== FORMAT) fail("not a namesmith model document (its format field is missing)");
    if (doc.version !== VERSION) fail(`a namesmith model document of version ${doc.version}; this namesmith.js reads version ${VERSION}`);
    this.doc = doc;
    this.chars = doc.vocab;
    this.V = doc.vocab.length;
    this.index = new Map(doc.vocab.map((c, i) => [c, i]));
    this.lowercase = doc.lowercase;
    this.styles = doc.styles;
    this.options = doc.options;
    this.info = doc.info;
    this.root = build(doc.model, this.V);
    this.known = doc.known_hashes ? halves(readArray(doc.known_hashes)) : null;
    this.knownNames = doc.known_names ? new Set(doc.known_names) : null;
    this.offensive = doc.offensive ? new OffensiveFilter(doc.offensive) : null;
    if (doc.particles) PARTICLES = new Set(doc.particles);
    this.pythonOnly = doc.python_only || { best: "", no_words: "", no_real: "" }; // documents before python_only
  }

  // ----- options ------------------------------------------------------------------
  checkOptions(given) {
    const out = {};
    const rows = new Map(this.options.map((o) => [o.name, o]));
    for (const key of Object.keys(given || {})) {
      if (!rows.has(key)) fail(`unknown sampling option '${key}'; the options are ${[...rows.keys()].join(", ")}`);
    }
    for (const o of this.options) {
      let v = given && given[o.name] !== undefined ? given[o.name] : o.default;
      if (v === null || v === undefined) {
        if (!o.optional && o.default !== null) fail(`${o.name} must be given`);
        out[o.name] = null;
        continue;
      }
      if (o.kind === "bool") { if (typeof v !== "boolean") fail(`${o.name} must be true or false, got ${JSON.stringify(v)}`); }
      else if (o.kind === "int" || o.kind === "float") {
        if (typeof v !== "number" || !Number.isFinite(v) || (o.kind === "int" && !Number.isInteger(v))) {
          fail(`${o.name} must be ${o.kind === "int" ? "a whole number" : "a number"}, got ${JSON.stringify(v)}`);
        }
        const low = o.min !== null && (o.exclusive_min ? v <= o.min : v < o.min);
        if (low || (o.max !== null && v > o.max)) fail(`${o.name} must be in ${o.exclusive_min ? "(" : "["}${o.min}, ${o.max}], got ${v}`);
      } else if (o.kind === "text") {
        if (typeof v !== "string") fail(`${o.name} must be text, got ${JSON.stringify(v)}`);
        if (o.longest && v.length > o.longest) fail(`${o.name} is longer than ${o.longest} characters`);
      } else if (o.kind === "choice") {
        if (!o.choices.includes(v)) fail(`${o.name} must be one of ${o.choices.join(", ")}, got ${JSON.stringify(v)}`);
      }
      out[o.name] = v;
    }
    if (out.min_len > out.max_len) fail(`min_len (${out.min_len}) is larger than max_len (${out.max_len})`);
    for (const [k, why] of Object.entries(this.pythonOnly)) {
      if (out[k] !== null && out[k] !== undefined && out[k] !== false) fail(`${k} is computed by the Python sampler only: ${why}`);
    }
    return out;
  }

  normalize(text, fold) {
    text = text.normalize("NFC");
    if (this.lowercase) text = text.toLowerCase().normalize("NFC");
    if (!fold) return text;
    let out = "";
    for (const c of text) {
      if (!this.index.has(c)) { const f = foldChar(c); out += f && [...f].every((x) => this.index.has(x)) ? f : c; }
      else out += c;
    }
    return out;
  }

  unknown(text) { return [...new Set([...text].filter((c) => !this.index.has(c) || c === "\n"))]; }

  ids(text, what) {
    const bad = this.unknown(text);
    if (bad.length) fail(`${what} '${text}' has characters the model never saw: ${bad.join(", ")}`);
    return [...text].map((c) => this.index.get(c));
  }

  styleIndex(name) {
    let i = this.styles.indexOf(name);
    if (i < 0) {
      const folded = this.styles.map((s, j) => [s.toLowerCase(), j]).filter(([s]) => s === String(name).toLowerCase());
      if (folded.length !== 1) fail(`unknown style '${name}'; this model knows: ${this.styles.slice(0, 30).join(", ")}`);
      i = folded[0][1];
    }
    return i;
  }

  /** [[style id, weight]] of a style, "A=0.7,B=0.3" or {A: 0.7, B: 0.3}; null for no style (styles.py parse_styles). */
  parseStyles(spec) {
    if (spec === null || spec === undefined || spec === "") return null;
    if (!this.styles.length) fail("this model has no styles (it was not trained on a labelled corpus): the shipped world model has them");
    let pairs;
    if (typeof spec === "string") {
      const parts = spec.split(",");
      if (parts.length > 1 && !parts.every((p) => p.includes("="))) fail(`a blend gives every style a weight: 'A=0.7,B=0.3', got '${spec}'`);
      pairs = parts.map((p) => (p.includes("=") ? [p.slice(0, p.indexOf("=")).trim(), p.slice(p.indexOf("=") + 1).trim()] : [p.trim(), "1"]));
    } else if (typeof spec === "object") pairs = Object.entries(spec);
    else fail("a style is a name, 'A=0.7,B=0.3' or a mapping of style to weight");
    const out = new Map();
    for (const [name, weight] of pairs) {
      const w = typeof weight === "boolean" ? NaN : Number(weight);
      if (!Number.isFinite(w) || w < 0) fail(`the weight of style '${name}' must be a number ≥ 0, got ${weight}`);
      const i = this.styleIndex(name);
      if (out.has(i)) fail(`style '${this.styles[i]}' appears twice in the blend`);
      out.set(i, w);
    }
    const top = Math.max(...out.values());
    if (!(top > 0)) fail("a blend needs at least one style with a weight above 0");
    const total = [...out.values()].reduce((a, w) => a + w / top, 0);
    return [...out.entries()].map(([i, w]) => [i, w / top / total]);
  }

  /** The stepper of a style or blend (styles.py styled): guided when strength > 0. */
  stepper(style = null, strength = 0) {
    const pairs = this.parseStyles(style);
    if (pairs === null) return this.root.view(null);
    if (strength) return guided(pairs.map(([i]) => this.root.view(i)), pairs.map(([, w]) => w), this.root.view(null), strength);
    const on = pairs.filter(([, w]) => w > 0);
    if (on.length === 1) return this.root.view(on[0][0]);
    return blend(pairs.map(([i]) => this.root.view(i)), pairs.map(([, w]) => w));
  }

  /** The next-character log-probabilities (V,) after the ids of `history` (the start symbol is fed first). */
  distribution(history, { style = null, style_strength = 0 } = {}) {
    const st = this.stepper(style, style_strength);
    let state = st.init(1), r = null;
    for (const id of [0, ...history]) { r = st.step(Int32Array.of(id), state); state = r.state; }
    return r.logp;
  }

  /** The seed of a key (keys.py key_seed): BLAKE2b-64 of the key with the model's digest, below 2^53. */
  keySeed(key) {
    if (!this.doc.model_digest) fail("this export has no model digest, so keys cannot be turned into seeds; export it again");
    const [lo, hi] = blake2b64(`namesmith-key\n${this.doc.model_digest}\n${key}`);
    return (hi & 0x1fffff) * 4294967296 + lo;
  }

  isKnown(name) {
    if (this.knownNames) return this.knownNames.has(name);
    if (!this.known || !this.known.hi.length) return false;
    const [l, h] = blake2b64(name), { hi: H, lo: L } = this.known; // sorted as uint64: by high, then low half
    let a = 0, b = H.length;
    while (a < b) { const mid = (a + b) >> 1; if (H[mid] < h || (H[mid] === h && L[mid] < l)) a = mid + 1; else b = mid; }
    return a < H.length && H[a] === h && L[a] === l;
  }

  prepare(opts) {
    const [prefix, suffix, contains] = [opts.prefix, opts.suffix, opts.contains].map((t) => this.normalize(t, opts.fold_accents));
    for (const [t, what] of [[prefix, "prefix"], [suffix, "suffix"], [contains, "contains text"]]) this.ids(t, what);
    const allowed = new Uint8Array(this.V).fill(1);
    let only = opts.only_chars;
    if (only === null && this.doc.alphabet && !opts.any_char && opts.style === null) only = this.doc.alphabet;
    if (only !== null) { allowed.fill(0); for (const c of this.normalize(only)) if (this.index.has(c)) allowed[this.index.get(c)] = 1; }
    for (const c of this.normalize(opts.exclude_chars)) if (this.index.has(c)) allowed[this.index.get(c)] = 0;
    allowed[0] = 0;
    for (const [t, what] of [[prefix, "prefix"], [suffix, "suffix"], [contains, "contains text"]]) {
      const bad = [...t].filter((c) => !allowed[this.index.get(c)]);
      if (bad.length) fail(`the ${what} '${t}' uses characters excluded by the character limits: ${bad.join(", ")}`);
    }
    if ([...prefix].length > opts.max_len) fail(`the prefix is longer than max_len ${opts.max_len}`);
    if ([...suffix].length > opts.max_len || [...contains].length > opts.max_len) fail("the suffix or contains text is longer than max_len");
    if (!allowed.some(Boolean) && opts.min_len > [...prefix].length) fail("no character is allowed, so no name can reach min_len");
    if (opts.novel && !this.known && !this.knownNames) fail("novel-only needs the training names, and this model file has no record of them");
    if (opts.offensive && opts.offensive !== "allow" && !this.offensive) fail("this export has no offensive-word table; export it again, or pass offensive: \"allow\"");
    let pattern = null;
    if (opts.pattern) {
      if (/\([^)]*[+*}][^)]*\)\s*[+*{]/.test(opts.pattern)) fail(`the pattern '${opts.pattern}' nests repeats (such as (a|aa)+), which can take hours to match; simplify it`);
      try { pattern = new RegExp(opts.pattern, "u"); } catch (e) { fail(`the pattern is not a valid regular expression: ${e.message}`); }
    }
    return { opts, prefix, suffix, contains, pattern, allowed };
  }

  rejects(prep, name, seen) {
    if (prep.suffix && !name.endsWith(prep.suffix)) return "suffix";
    if (prep.contains && !name.includes(prep.contains)) return "contains";
    if (prep.pattern && !prep.pattern.test(name)) return "pattern";
    const mode = prep.opts.offensive;
    if (mode && mode !== "allow" && this.offensive.rejects(name, mode, this.isKnown(name))) return "offensive";
    if (prep.opts.novel && this.isKnown(name)) return "known";
    if (prep.opts.unique && seen.has(name)) return "duplicate";
    return null;
  }

  /** One candidate per seed: [names, log-probabilities] (sample.py Sampler.generate). */
  generate(seeds, prep, st) {
    const { opts, allowed } = prep, V = this.V, m = seeds.length;
    const fed = [0, ...this.ids(prep.prefix, "prefix")];
    let state = st.init(1), r = null, fedLp = 0;
    fed.forEach((id, i) => {
      r = st.step(Int32Array.of(id), state);
      state = r.state;
      if (i + 1 < fed.length) fedLp += r.logp[fed[i + 1]];
    });
    const L0 = fed.length - 1, steps = opts.max_len - L0 + 1;
    const names = new Array(m).fill(prep.prefix), logprob = new Float64Array(m).fill(fedLp);
    const mixed = seeds.map((s) => mix64(BigInt(s)));
    let active = Array.from({ length: m }, (_, i) => i);
    let logp = new Float64Array(m * V);
    for (let i = 0; i < m; i++) logp.set(r.logp, i * V);
    state = selectState(state, new Array(m).fill(0));
    const mask = new Uint8Array(V), z = new Float64Array(V), order = new Int32Array(V);
    for (let t = 0; t < steps; t++) {
      const length = L0 + t;
      for (let j = 0; j < V; j++) mask[j] = length < opts.max_len ? allowed[j] : 0;
      mask[0] = length >= opts.min_len || !mask.some(Boolean) ? 1 : 0;
      const going = [], ids = [];
      active.forEach((row, a) => {
        const lp = logp.subarray(a * V, a * V + V);
        const c = nextSymbol(lp, mask, opts, uniform(mixed[row], t), z, order);
        logprob[row] += lp[c];
        if (c !== 0) { names[row] += this.chars[c]; going.push(a); ids.push(c); }
      });
      if (!going.length) break;
      if (going.length < active.length) { state = selectState(state, going); active = going.map((a) => active[a]); }
      const out = st.step(Int32Array.from(ids), state);
      logp = out.logp;
      state = out.state;
    }
    return [names, logprob];
  }

  /** n names satisfying the options (sample.py Sampler.sample): an array of samples with tries, seed, rejected. */
  sample(options = {}) {
    const opts = this.checkOptions(options);
    const prep = this.prepare(opts);
    const st = this.stepper(opts.style, opts.style ? opts.style_strength : 0);
    if (opts.key !== null && opts.key !== undefined && (opts.seed !== null || opts.best !== null)) {
      fail("give a key or a seed, not both (a key makes the seed); the most probable names (best) take neither");
    }
    const n = opts.n, seed = opts.key != null ? this.keySeed(opts.key) : opts.seed === null ? freshSeed() : opts.seed;
    const budget = opts.max_tries !== null ? opts.max_tries : 100 * n + 1000;
    const filtering = Boolean(opts.suffix || opts.contains || opts.pattern || opts.novel || opts.unique);
    const out = [];
    out.tries = 0; out.seed = seed; out.rejected = {};
    const seen = new Set();
    while (out.length < n) {
      if (out.tries >= budget) {
        fail(`found only ${out.length} of ${n} names in ${out.tries} tries (acceptance ${(100 * out.length / Math.max(out.tries, 1)).toFixed(2)}%); loosen the constraints or allow more tries (max_tries)`);
      }
      const need = n - out.length, rate = (out.length + 1) / (out.tries + 1);
      const m = filtering ? Math.min(budget - out.tries, MAX_BATCH, Math.max(need, Math.ceil(1.2 * need / rate))) : Math.min(need, MAX_BATCH);
      const seeds = childSeeds(seed, out.tries, m);
      const [names, logprobs] = this.generate(seeds, prep, st);
      let used = names.length;
      for (let i = 0; i < names.length; i++) {
        if (!Number.isFinite(logprobs[i])) fail("the model gives non-finite probabilities; this model file cannot be used");
        const why = this.rejects(prep, names[i], seen);
        if (why) { out.rejected[why] = (out.rejected[why] || 0) + 1; continue; }
        if (opts.unique) seen.add(names[i]);
        out.push(this.sampleOf(names[i], logprobs[i], seeds[i]));
        if (out.length === n) { used = i + 1; break; }
      }
      out.tries += used;
    }
    return out;
  }

  sampleOf(name, logprob, seed) {
    const novel = this.known || this.knownNames ? !this.isKnown(name) : null;
    return { name, display: this.lowercase ? capitalised(name) : name, logprob,
             nats_per_char: -logprob / ([...name].length + 1), novel, seed };
  }

  /** log P(name + end) and each character's surprisal (score.py score_names), under a style if given. */
  score(name, { style = null, fold_accents = false } = {}) {
    if (typeof name !== "string") fail("a name must be text");
    const text = this.normalize(name, fold_accents);
    if (!text) fail("cannot score an empty name; give at least one character");
    const shown = this.lowercase ? capitalised(text) : text;
    const unknown = this.unknown(text);
    const offensive = this.offensive ? this.offensive.flag(text) : null;
    if (unknown.length) return { name: text, display: shown, logprob: null, nats_per_char: null, surprisal: [], percentile: null, unknown_chars: unknown, offensive };
    const ids = this.ids(text, "name"), st = this.stepper(style, 0);
    let state = st.init(1);
    const surprisal = [];
    let total = 0;
    const labels = [...text, "<end>"];
    [0, ...ids].forEach((id, i) => {
      const r = st.step(Int32Array.of(id), state);
      state = r.state;
      const nats = -r.logp[i < ids.length ? ids[i] : 0];
      total += nats;
      surprisal.push({ char: labels[i], nats });
    });
    const per = total / surprisal.length;
    return { name: text, display: shown, logprob: -total, nats_per_char: per, surprisal, percentile: this.percentile(per), unknown_chars: [], offensive };
  }

  percentile(perChar) { // score.py percentile_of: the share of training names with a higher nats/char
    const q = this.doc.quantiles;
    if (!q || q.length < 2) return null;
    let below;
    if (perChar <= q[0]) below = 0;
    else if (perChar >= q[q.length - 1]) below = 1;
    else {
      let i = 1;
      while (q[i] < perChar) i++;
      const lo = q[i - 1], hi = q[i], f = hi > lo ? (perChar - lo) / (hi - lo) : 0;
      below = (i - 1 + f) / (q.length - 1);
    }
    return Math.round(1000 * (1 - below)) / 10;
  }

  /** p(style | name) by Bayes' rule (styles.py classify): the training shares as the prior, unless uniform. */
  classify(name, { top = null, uniform_prior = false, fold_accents = false } = {}) {
    if (!this.styles.length) fail("this model has no styles (it was not trained on a labelled corpus)");
    const counts = this.doc.style_counts, S = this.styles.length;
    const totalCount = counts.reduce((a, c) => a + c + 1, 0);
    const scores = this.styles.map((s, i) => {
      const r = this.score(name, { style: s, fold_accents });
      if (r.logprob === null) return null;
      return r.logprob + (uniform_prior || !counts.some(Boolean) ? -Math.log(S) : Math.log((counts[i] + 1) / totalCount));
    });
    const text = this.normalize(String(name), fold_accents);
    const display = this.lowercase ? capitalised(text) : text;
    const offensive = this.offensive ? this.offensive.flag(text) : null;
    if (scores[0] === null) return { name: text, display, style: null, probability: null, styles: {}, unknown_chars: this.unknown(text), offensive };
    const best = Math.max(...scores), z = scores.map((x) => Math.exp(x - best)), sum = z.reduce((a, b) => a + b, 0);
    const ranked = z.map((p, i) => [this.styles[i], p / sum]).sort((a, b) => b[1] - a[1]).slice(0, top || S);
    return { name: text, display, style: ranked[0][0], probability: ranked[0][1], styles: Object.fromEntries(ranked), unknown_chars: [], offensive };
  }
}

function halves(u64) { // a sorted BigUint64Array as two Uint32Arrays, so lookups need no BigInt
  const words = new Uint32Array(u64.buffer, u64.byteOffset, 2 * u64.length), n = u64.length;
  const hi = new Uint32Array(n), lo = new Uint32Array(n);
  for (let i = 0; i < n; i++) { lo[i] = words[2 * i]; hi[i] = words[2 * i + 1]; }
  return { hi, lo };
}

const WRAPPER = /^\s*globalThis\.NAMESMITH_MODEL\s*=\s*/;

/** A model from a URL (fetched), the document's text (JSON, or model.js), its bytes, or the parsed object. */
export async function load(source) {
  if (source instanceof Model) return source;
  if (typeof source === "string" && !source.trimStart().startsWith("{") && !WRAPPER.test(source)) {
    const res = await fetch(source);
    if (!res.ok) fail(`could not fetch the model ${source}: ${res.status}`);
    source = await res.text();
  }
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) source = new TextDecoder().decode(source);
  if (typeof source === "string") {
    const text = source.replace(WRAPPER, "").replace(/;\s*$/, "");
    try { source = JSON.parse(text); } catch (e) { fail(`the model document is not valid JSON: ${e.message}`); }
  }
  return new Model(source);
}
