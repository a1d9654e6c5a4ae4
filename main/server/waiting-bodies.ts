import { ApiError } from '../api-error'

export interface WaitingBodiesLimits {
  /** VBS_MAX_WAITING_BODIES */
  maxBodies: number
  /** VBS_MAX_WAITING_BODY_BYTES */
  maxBytes: number
  retryAfterSeconds: number
}

/**
 * Real-time requests whose body is parsed and held while they wait for the engine (a model loading): bounded
 * in number and in bytes, so that a few clients sending 32 MiB bodies during a load cannot fill the heap. A
 * request over a bound is answered 503 at once, with Retry-After, instead of being held.
 */
export class WaitingBodies {
  private count = 0
  private total = 0

  constructor(private readonly limits: WaitingBodiesLimits) {}

  get bodies(): number {
    return this.count
  }

  get bytes(): number {
    return this.total
  }

  /** Counts a body in while it waits; returns the function that counts it out (call it exactly once). */
  enter(bytes: number): () => void {
    const { maxBodies, maxBytes, retryAfterSeconds } = this.limits
    const why =
      this.count + 1 > maxBodies
        ? `${this.count} requests already wait for it (VBS_MAX_WAITING_BODIES is ${maxBodies})`
        : this.total + bytes > maxBytes
          ? `the requests waiting for it hold ${mib(this.total)} and this one ${mib(bytes)}, over VBS_MAX_WAITING_BODY_BYTES (${mib(maxBytes)})`
          : null
    if (why !== null) {
      throw new ApiError(503, `The engine is not ready (a model is loading) and ${why}. Try again in ${retryAfterSeconds} s.`, {
        code: 'engine_busy',
        headers: { 'retry-after': String(retryAfterSeconds) },
      })
    }
    this.count += 1
    this.total += bytes
    let left = false
    return () => {
      if (left) return
      left = true
      this.count -= 1
      this.total -= bytes
    }
  }
}

function mib(bytes: number): string {
  return bytes < 1024 * 1024 ? `${bytes} bytes` : `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
}
