/** Deterministic helpers: a seeded PRNG for fault decisions and a string hash for fake data. */

/** FNV-1a 32-bit hash of a string. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Short hex digest, handy for ids. */
export function hex(s: string, len = 8): string {
  let out = '';
  let i = 0;
  while (out.length < len) out += hash32(`${i++}:${s}`).toString(16).padStart(8, '0');
  return out.slice(0, len);
}

/** Deterministic number in [min, max] derived from a key. */
export function pick(key: string, min: number, max: number): number {
  return min + (hash32(key) % (max - min + 1));
}

/** Deterministic float in [0, 1) derived from a key. */
export function unit(key: string): number {
  return hash32(key) / 0x1_0000_0000;
}

/** mulberry32: small, fast, seedable; `next()` returns a float in [0, 1). */
export class Prng {
  private state: number;
  constructor(seed: string | number) {
    this.state = typeof seed === 'number' ? seed >>> 0 : hash32(seed);
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  }
}
