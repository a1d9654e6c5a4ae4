export type { BatchProgress } from '../contract/jobs'

/** Completions and tokens over a sliding window, for rates that follow the recent pace. */
export class RateMeter {
  private readonly events: { at: number; n: number; tokens: number }[] = []

  constructor(private readonly windowMs = 15_000) {}

  add(n: number, tokens: number, at = Date.now()): void {
    this.events.push({ at, n, tokens })
    this.trim(at)
  }

  rates(at = Date.now()): { perSecond: number; tokensPerSecond: number } {
    this.trim(at)
    if (this.events.length === 0) return { perSecond: 0, tokensPerSecond: 0 }
    const span = Math.max(1000, at - this.events[0].at)
    let n = 0
    let tokens = 0
    for (const e of this.events) {
      n += e.n
      tokens += e.tokens
    }
    return { perSecond: (n * 1000) / span, tokensPerSecond: (tokens * 1000) / span }
  }

  private trim(at: number): void {
    while (this.events.length > 0 && at - this.events[0].at > this.windowMs) this.events.shift()
  }
}
