// A leading-and-trailing throttle: the first call runs at once, calls within `intervalMs` of a run collapse into
// one run at the end of the interval, so the last state is always shown and never more than once an interval.

export interface Throttled {
  (): void
  /** Drops a pending run (on shutdown). */
  cancel(): void
}

export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

export function throttle(fn: () => void, intervalMs: number, clock: Clock = realClock): Throttled {
  let last = -Infinity
  let timer: unknown = null
  const run = (): void => {
    timer = null
    last = clock.now()
    fn()
  }
  const throttled = (): void => {
    if (timer !== null) return
    const wait = last + intervalMs - clock.now()
    if (wait <= 0) run()
    else timer = clock.setTimeout(run, wait)
  }
  throttled.cancel = (): void => {
    if (timer !== null) clock.clearTimeout(timer)
    timer = null
  }
  return throttled
}
