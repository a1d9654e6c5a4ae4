import type { Logger } from 'pino'
import { ApiError } from '../api-error'
import type { ModelEntry, ModelRegistry } from '../config/models'
import type { EngineSupervisor } from './supervisor'
import { EngineError, type EngineStatus } from './engine-types'

export interface EngineOptions {
  /** How long a request may wait for its model to load before it gets 503. */
  waitMs: number
  /** How long a swap waits for the requests in flight on the old model to finish. */
  swapDrainMs: number
  /** A failed load is not tried again by requests for this long (an explicit start always tries). */
  failCooldownMs: number
  /** Stop the engine after this long without use; 0 = never. */
  idleUnloadMs: number
  retryAfterSeconds: number
}

/** A batch job's hold on the engine: while held, the engine runs only the job's model. */
export interface EngineLease {
  readonly model: string
  release(): void
}

/** Handed to a request that may use the engine; release() when its response is done. */
export interface EngineTicket {
  baseUrl: string
  model: string
  release(): void
}

interface LeaseHolder {
  model: string
  /** What to tell a request for another model, e.g. "batch batch_abc is running on gemma-3-12b (1,200 / 5,000 done)". */
  describe: () => string
}

/**
 * The engine as the rest of the service sees it: `acquire(model)` makes the model run (one load however many
 * requests wait for it, queued in arrival order) and counts the request in flight; models change only
 * between batch jobs, and a swap lets the old model's requests finish first.
 */
export class Engine {
  private queue: Promise<void> = Promise.resolve()
  private readonly loads = new Map<string, Promise<void>>()
  private inFlight = 0
  private drained: (() => void) | null = null
  private leases: LeaseHolder[] = []
  private lastUsed = Date.now()
  private idleTimer: NodeJS.Timeout | null = null

  constructor(
    readonly supervisor: EngineSupervisor,
    private readonly registry: () => ModelRegistry,
    private readonly o: EngineOptions,
    private readonly log: Logger,
  ) {
    if (o.idleUnloadMs > 0) {
      this.idleTimer = setInterval(() => this.unloadIfIdle(), Math.min(30_000, o.idleUnloadMs))
      this.idleTimer.unref()
    }
  }

  status(): EngineStatus & { inFlight: number; leasedBy: string | null } {
    return { ...this.supervisor.status(), inFlight: this.inFlight, leasedBy: this.leases[0]?.describe() ?? null }
  }

  /** Makes `model` (a registry id) run and counts one request in flight on it. Throws ApiError 503 otherwise. */
  async acquire(model: string, signal?: AbortSignal): Promise<EngineTicket> {
    const entry = this.entryFor(model)
    const lease = this.leases[0]
    if (lease && lease.model !== entry.id) throw this.busy(lease)
    if (!this.runs(entry.id)) {
      this.checkCooldown(entry.id)
      await this.bounded(this.load(entry), entry.id, signal)
      const after = this.leases[0]
      if (after && after.model !== entry.id) throw this.busy(after)
    }
    if (!this.runs(entry.id)) return this.acquire(model, signal) // another swap got in first: queue again
    this.inFlight += 1
    this.lastUsed = Date.now()
    let released = false
    return {
      baseUrl: this.supervisor.baseUrl!,
      model: entry.id,
      release: () => {
        if (released) return
        released = true
        this.inFlight -= 1
        this.lastUsed = Date.now()
        if (this.inFlight === 0) this.drained?.()
      },
    }
  }

  /** Holds the engine on `model` for a batch job; waits until the model runs. */
  async lease(holder: LeaseHolder): Promise<EngineLease> {
    const entry = this.entryFor(holder.model)
    const other = this.leases.find((l) => l.model !== entry.id)
    if (other) throw this.busy(other)
    this.leases.push(holder)
    const release = (): void => {
      this.leases = this.leases.filter((l) => l !== holder)
      this.lastUsed = Date.now()
    }
    try {
      if (!this.runs(entry.id)) await this.load(entry)
    } catch (err) {
      release()
      throw err
    }
    return { model: entry.id, release }
  }

  /** Throws the ApiError an explicit start of `model` would meet at once (unknown model, GPU leased, no vLLM). */
  checkStartable(model?: string): void {
    const entry = this.entryFor(model ?? this.registry().defaultModel ?? '')
    const lease = this.leases[0]
    if (lease && lease.model !== entry.id) throw this.busy(lease)
    try {
      this.supervisor.locateBinary()
    } catch (err) {
      this.supervisor.markUnavailable(err as EngineError)
      throw unavailable(err as EngineError, this.o.retryAfterSeconds)
    }
  }

  /** Explicit start (tray, API): tries again even after a recent failure (no cooldown check). */
  async start(model?: string): Promise<void> {
    const entry = this.entryFor(model ?? this.registry().defaultModel ?? '')
    const lease = this.leases[0]
    if (lease && lease.model !== entry.id) throw this.busy(lease)
    await this.load(entry)
  }

  /** Explicit stop; refused while a batch job holds the engine. */
  async stop(): Promise<void> {
    const lease = this.leases[0]
    if (lease) {
      throw new ApiError(409, `Cannot stop the engine: ${lease.describe()}. Cancel or pause the batch first.`, {
        code: 'model_busy',
      })
    }
    await this.enqueue(() => this.supervisor.stop())
  }

  /** Stops the engine for good (service shutdown), whatever holds it. */
  async shutdown(): Promise<void> {
    if (this.idleTimer) clearInterval(this.idleTimer)
    await this.enqueue(() => this.supervisor.stop('service stopping'))
  }

  private runs(model: string): boolean {
    return this.supervisor.currentState === 'ready' && this.supervisor.model === model
  }

  /** One load per model at a time, queued behind other engine operations in arrival order. */
  private load(entry: ModelEntry): Promise<void> {
    const pending = this.loads.get(entry.id)
    if (pending) return pending
    const run = this.enqueue(async () => {
      if (this.runs(entry.id)) return
      const state = this.supervisor.currentState
      if (state === 'starting' && this.supervisor.model === entry.id) {
        await this.supervisor.whenSettled()
        if (this.runs(entry.id)) return
      }
      if (state !== 'stopped' && state !== 'failed') {
        await this.drain()
        await this.supervisor.stop(`switching to ${entry.id}`)
      }
      await this.supervisor.start(entry)
    }).finally(() => this.loads.delete(entry.id))
    this.loads.set(entry.id, run)
    return run
  }

  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    const result = this.queue.then(op)
    this.queue = result.then(
      () => undefined,
      () => undefined,
    )
    return result
  }

  /** Waits (bounded) until no request is in flight on the running model. */
  private async drain(): Promise<void> {
    if (this.inFlight === 0) return
    this.log.info({ inFlight: this.inFlight }, 'waiting for requests in flight before switching models')
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.warn({ inFlight: this.inFlight }, 'switching models with requests still in flight')
        resolve()
      }, this.o.swapDrainMs)
      this.drained = () => {
        clearTimeout(timer)
        this.drained = null
        resolve()
      }
    })
  }

  private async bounded(load: Promise<void>, model: string, signal?: AbortSignal): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ApiError(503, `${model} is still loading after ${Math.round(this.o.waitMs / 1000)} s; try again shortly.`, {
              code: 'model_loading',
              headers: { 'retry-after': String(this.o.retryAfterSeconds) },
            }),
          ),
        this.o.waitMs,
      )
    })
    const aborted = new Promise<never>((_, reject) => {
      signal?.addEventListener('abort', () => reject(new ApiError(408, 'The client closed the request.', { code: 'client_closed' })), { once: true })
    })
    try {
      await Promise.race([load, timeout, aborted])
    } catch (err) {
      if (err instanceof EngineError) throw unavailable(err, this.o.retryAfterSeconds)
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  private checkCooldown(model: string): void {
    // vLLM missing is checked afresh every time: installing it must not wait out a cooldown.
    try {
      this.supervisor.locateBinary()
    } catch (err) {
      this.supervisor.markUnavailable(err as EngineError)
      throw unavailable(err as EngineError, this.o.retryAfterSeconds)
    }
    // A model that just failed to load is not loaded again by every request that follows; one that crashed
    // over and over stays down until someone starts it on purpose.
    const failed = this.supervisor.lastFailure()
    if (!failed || failed.model !== model) return
    if (failed.error.kind === 'crashed' || Date.now() - failed.at < this.o.failCooldownMs) {
      throw unavailable(failed.error, this.o.retryAfterSeconds)
    }
  }

  private entryFor(model: string): ModelEntry {
    const entry = this.registry().resolve(model)
    if (!entry) {
      throw new ApiError(404, `The model '${model}' does not exist: it is not in models.yaml.`, {
        code: 'model_not_found',
        param: 'model',
      })
    }
    return entry
  }

  private busy(lease: LeaseHolder): ApiError {
    return new ApiError(503, `The GPU is busy: ${lease.describe()}. Models change only between batch jobs; try again later.`, {
      code: 'model_busy',
      headers: { 'retry-after': String(this.o.retryAfterSeconds) },
    })
  }

  private unloadIfIdle(): void {
    if (this.o.idleUnloadMs <= 0 || this.inFlight > 0 || this.leases.length > 0) return
    if (this.supervisor.currentState !== 'ready') return
    if (Date.now() - this.lastUsed < this.o.idleUnloadMs) return
    this.log.info({ model: this.supervisor.model }, 'unloading the model: idle')
    void this.enqueue(async () => {
      if (this.inFlight === 0 && this.leases.length === 0 && Date.now() - this.lastUsed >= this.o.idleUnloadMs) {
        await this.supervisor.stop('idle')
      }
    }).catch((err: unknown) => this.log.error({ err }, 'idle unload failed'))
  }
}

function unavailable(err: EngineError, retryAfterSeconds: number): ApiError {
  return new ApiError(503, err.message, {
    code: err.kind === 'not_found' ? 'engine_not_found' : 'engine_unavailable',
    headers: { 'retry-after': String(retryAfterSeconds) },
  })
}
