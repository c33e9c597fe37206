/**
 * A poll delay spread ±`spread` around `baseMs`, the same for the same seed. Runs created in a
 * burst otherwise poll in phase forever: N runs due in the same second, every interval. With the
 * run id and the poll number as seed the spread is reproducible (a re-run poll waits as long).
 */
export function jittered(baseMs: number, seed: string, spread = 0.1): number {
  // FNV-1a, 32 bit: cheap and well spread over short strings
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) {
    h ^= seed.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  const u = (h >>> 0) / 2 ** 32; // [0, 1)
  return Math.round(baseMs * (1 - spread + 2 * spread * u));
}
