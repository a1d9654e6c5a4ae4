/**
 * At most one call of `run` per `intervalMs`: the first request runs at once, later ones within the interval
 * are folded into one call at its end. For the live views, which refetch their visible page on every
 * `batch.progress` event (a job sends several a second).
 */
export interface Throttle {
  /** Asks for a run: now, or once at the end of the current interval. */
  request: () => void
  /** Drops a pending run. */
  cancel: () => void
}

export function throttle(run: () => void, intervalMs: number, now: () => number = Date.now): Throttle {
  let last = -Infinity
  let timer: ReturnType<typeof setTimeout> | undefined
  const fire = (): void => {
    timer = undefined
    last = now()
    run()
  }
  return {
    request: () => {
      if (timer !== undefined) return
      const wait = last + intervalMs - now()
      if (wait <= 0) fire()
      else timer = setTimeout(fire, wait)
    },
    cancel: () => {
      clearTimeout(timer)
      timer = undefined
    },
  }
}
