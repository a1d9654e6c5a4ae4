/** A small seeded PRNG (mulberry32): the same seed always gives the same numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0 || 0x9e3779b9 // mulberry32 is poor from a zero state
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
