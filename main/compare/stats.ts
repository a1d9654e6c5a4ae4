/** The 95% Wilson score interval of a share `wins / n` (well-behaved for small n and for shares near 0 or 1). */
export function wilsonInterval(wins: number, n: number, z = 1.96): [number, number] | null {
  if (n === 0) return null
  const p = wins / n
  const z2 = z * z
  const denominator = 1 + z2 / n
  const center = (p + z2 / (2 * n)) / denominator
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denominator
  return [Math.max(0, round4(center - half)), Math.min(1, round4(center + half))]
}

export const round4 = (x: number): number => Math.round(x * 10_000) / 10_000
