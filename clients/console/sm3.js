// SM3 (GB/T 32905-2016) in plain JavaScript, incremental, for hashing files in the
// browser: the file never leaves the machine, only its digest is sent to /v1/verify.
// Checked against the standard's two examples by tests/console/test_sm3_js.py.

const IV = [
  0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e,
];

const rotl = (x, n) => ((x << n) | (x >>> (32 - n))) >>> 0;
const p0 = (x) => (x ^ rotl(x, 9) ^ rotl(x, 17)) >>> 0;
const p1 = (x) => (x ^ rotl(x, 15) ^ rotl(x, 23)) >>> 0;

// T_j rotated left by j mod 32, precomputed.
const TJ = new Uint32Array(64);
for (let j = 0; j < 64; j++) {
  TJ[j] = rotl(j < 16 ? 0x79cc4519 : 0x7a879d8a, j % 32);
}

export class SM3 {
  constructor() {
    this.v = Uint32Array.from(IV);
    this.block = new Uint8Array(64);
    this.used = 0; // bytes waiting in this.block
    this.length = 0; // total bytes hashed (exact up to 2^53)
    this.w = new Uint32Array(68);
    this.w1 = new Uint32Array(64);
  }

  /** Feed bytes (a Uint8Array or an ArrayBuffer). Returns this. */
  update(data) {
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    let i = 0;
    this.length += bytes.length;
    if (this.used > 0) {
      const take = Math.min(64 - this.used, bytes.length);
      this.block.set(bytes.subarray(0, take), this.used);
      this.used += take;
      i = take;
      if (this.used < 64) return this;
      this.compress(this.block, 0);
      this.used = 0;
    }
    for (; i + 64 <= bytes.length; i += 64) this.compress(bytes, i);
    if (i < bytes.length) {
      this.block.set(bytes.subarray(i), 0);
      this.used = bytes.length - i;
    }
    return this;
  }

  /** The 32-byte digest; the hash cannot be updated afterwards. */
  digest() {
    const bits = this.length * 8;
    const tail = new Uint8Array(this.used < 56 ? 64 : 128);
    tail.set(this.block.subarray(0, this.used));
    tail[this.used] = 0x80;
    const view = new DataView(tail.buffer);
    view.setUint32(tail.length - 8, Math.floor(bits / 0x100000000));
    view.setUint32(tail.length - 4, bits >>> 0);
    for (let i = 0; i < tail.length; i += 64) this.compress(tail, i);
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let k = 0; k < 8; k++) outView.setUint32(4 * k, this.v[k]);
    return out;
  }

  hexdigest() {
    return toHex(this.digest());
  }

  compress(bytes, offset) {
    const w = this.w;
    const w1 = this.w1;
    for (let j = 0; j < 16; j++) {
      const k = offset + 4 * j;
      w[j] = ((bytes[k] << 24) | (bytes[k + 1] << 16) | (bytes[k + 2] << 8) | bytes[k + 3]) >>> 0;
    }
    for (let j = 16; j < 68; j++) {
      w[j] = (p1(w[j - 16] ^ w[j - 9] ^ rotl(w[j - 3], 15)) ^ rotl(w[j - 13], 7) ^ w[j - 6]) >>> 0;
    }
    for (let j = 0; j < 64; j++) w1[j] = (w[j] ^ w[j + 4]) >>> 0;

    const v = this.v;
    let a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
    for (let j = 0; j < 64; j++) {
      const a12 = rotl(a, 12);
      const ss1 = rotl((a12 + e + TJ[j]) >>> 0, 7);
      const ss2 = (ss1 ^ a12) >>> 0;
      const ff = j < 16 ? a ^ b ^ c : (a & b) | (a & c) | (b & c);
      const gg = j < 16 ? e ^ f ^ g : (e & f) | (~e & g);
      const tt1 = ((ff >>> 0) + d + ss2 + w1[j]) >>> 0;
      const tt2 = ((gg >>> 0) + h + ss1 + w[j]) >>> 0;
      d = c;
      c = rotl(b, 9);
      b = a;
      a = tt1;
      h = g;
      g = rotl(f, 19);
      f = e;
      e = p0(tt2);
    }
    v[0] ^= a; v[1] ^= b; v[2] ^= c; v[3] ^= d;
    v[4] ^= e; v[5] ^= f; v[6] ^= g; v[7] ^= h;
  }
}

export function toHex(bytes) {
  let s = "";
  for (const x of bytes) s += x.toString(16).padStart(2, "0");
  return s;
}

/** SM3 of bytes (Uint8Array, ArrayBuffer or a string, taken as UTF-8), as hex. */
export function sm3Hex(data) {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return new SM3().update(bytes).hexdigest();
}

/**
 * SM3 of a File or Blob, read in slices so that large scans do not fill memory.
 * onProgress(doneBytes, totalBytes) is called after every slice.
 */
export async function sm3File(file, onProgress = () => {}, sliceBytes = 4 << 20) {
  const h = new SM3();
  for (let pos = 0; pos < file.size; pos += sliceBytes) {
    const chunk = await file.slice(pos, pos + sliceBytes).arrayBuffer();
    h.update(new Uint8Array(chunk));
    onProgress(Math.min(pos + sliceBytes, file.size), file.size);
  }
  if (file.size === 0) onProgress(0, 0);
  return h.hexdigest();
}
