/**
 * The context's sequences, leased one per request in flight. Requests beyond the pool wait in a queue ordered
 * by priority (lower first, as vLLM's priority scheduling: interactive 0 overtakes batch 10), then arrival.
 * A returned sequence is reset (its history cleared) before the next request gets it.
 */
export interface Lease<S> {
  readonly item: S
  /** Returns the item; calling it again does nothing. */
  release: () => void
}

interface Waiter<S> {
  priority: number
  arrival: number
  resolve: (lease: Lease<S>) => void
  reject: (reason: unknown) => void
  detach: () => void
}

export class PoolClosedError extends Error {
  override name = 'PoolClosedError'
}

export class SequencePool<S> {
  private readonly free: S[]
  /** Sorted: the next to be served first. */
  private readonly queue: Waiter<S>[] = []
  private arrivals = 0
  private leased = 0
  private closed = false

  constructor(
    items: readonly S[],
    private readonly reset: (item: S) => Promise<void>,
  ) {
    this.free = [...items]
  }

  /** Requests holding a sequence. */
  get running(): number {
    return this.leased
  }

  /** Requests waiting for one. */
  get waiting(): number {
    return this.queue.length
  }

  acquire(priority = 0, signal?: AbortSignal): Promise<Lease<S>> {
    if (this.closed) return Promise.reject(new PoolClosedError('the server is shutting down'))
    if (signal?.aborted) return Promise.reject(signal.reason)
    const item = this.queue.length === 0 ? this.free.pop() : undefined
    if (item !== undefined) return Promise.resolve(this.lease(item))
    return new Promise<Lease<S>>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.queue.indexOf(waiter)
        if (i !== -1) this.queue.splice(i, 1)
        reject(signal!.reason)
      }
      const waiter: Waiter<S> = {
        priority,
        arrival: this.arrivals++,
        resolve,
        reject,
        detach: () => signal?.removeEventListener('abort', onAbort),
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.queue.splice(this.insertionIndex(waiter), 0, waiter)
    })
  }

  /** Rejects everything waiting and every later acquire. Leased items stay with their holders. */
  close(): void {
    this.closed = true
    for (const w of this.queue.splice(0)) {
      w.detach()
      w.reject(new PoolClosedError('the server is shutting down'))
    }
  }

  private lease(item: S): Lease<S> {
    this.leased++
    let released = false
    return {
      item,
      release: () => {
        if (released) return
        released = true
        this.leased--
        this.reset(item).then(
          () => this.handOff(item),
          // A sequence that cannot be reset (the context is gone) leaves the pool.
          () => undefined,
        )
      },
    }
  }

  private handOff(item: S): void {
    const next = this.queue.shift()
    if (next === undefined) {
      this.free.push(item)
      return
    }
    next.detach()
    next.resolve(this.lease(item))
  }

  /** Binary search for the first waiter that is served after `w` (equal priority: arrival order). */
  private insertionIndex(w: Waiter<S>): number {
    let lo = 0
    let hi = this.queue.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.queue[mid].priority <= w.priority) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
