import type { Logger } from 'pino'
import { ApiError } from '../api-error'
import type { ModelEntry, ModelRegistry } from '../config/models'
import type { EngineBackend, EngineCapabilities, EngineTarget } from './engine-backend'
import { EngineError, type EngineStatus, type WarmEngine } from './engine-types'

/** How often an idle model is looked at for unloading (idle_unload_minutes). */
const IDLE_CHECK_MS = 30_000

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
  target: EngineTarget
  /** The registry id of the model. */
  model: string
  release(): void
}

interface LeaseHolder {
  model: string
  /** What to tell a request for another model, e.g. "batch batch_abc is running on gemma-3-12b (1,200 / 5,000 done)". */
  describe: () => string
}

/**
 * The engine as the rest of the service sees it, whatever kind runs the model (vLLM, llama.cpp, remote):
 * `acquire(model)` makes the model run (one load however many requests wait for it, queued in arrival order)
 * and counts the request in flight; models change only between batch jobs, and a swap lets the old model's
 * requests finish first, also when it changes the kind of engine.
 */
export class Engine {
  private queue: Promise<void> = Promise.resolve()
  private readonly loads = new Map<string, Promise<void>>()
  private inFlight = 0
  private drained: (() => void) | null = null
  private leases: LeaseHolder[] = []
  private lastUsed = Date.now()
  private idleTimer: NodeJS.Timeout | null = null
  /** The backend that runs (or last ran) a model; the others are stopped. */
  private active: EngineBackend

  constructor(
    private readonly backends: readonly EngineBackend[],
    private readonly registry: () => ModelRegistry,
    private readonly o: EngineOptions,
    private readonly log: Logger,
  ) {
    this.active = backends[0]
    if (o.idleUnloadMs > 0) {
      this.idleTimer = setInterval(() => this.unloadIfIdle(), Math.min(IDLE_CHECK_MS, o.idleUnloadMs))
      this.idleTimer.unref()
    }
  }

  status(): EngineStatus & { inFlight: number; leasedBy: string | null } {
    return { ...this.active.status(), pool: this.pool(), inFlight: this.inFlight, leasedBy: this.leases[0]?.describe() ?? null }
  }

  /** The engines kept for fast switches: the awake one first, then those asleep, the most recently used first. */
  pool(): WarmEngine[] {
    return this.backends.flatMap((b) => b.warm?.() ?? [])
  }

  /**
   * The models a batch can start on without a load: the one serving (or waking) and those asleep in the warm
   * pool. The scheduler prefers jobs for these.
   */
  warmModels(): string[] {
    const models = new Set<string>()
    if (this.active.currentState === 'ready' && this.active.model !== null) models.add(this.active.model)
    for (const w of this.pool()) if (w.state === 'ready' || w.state === 'sleeping' || w.state === 'waking') models.add(w.model)
    return [...models]
  }

  /** Whether `model` (a registry id) is loaded and serving. */
  runs(model: string): boolean {
    return this.active.currentState === 'ready' && this.active.model === model
  }

  /** Where requests for the running model go, or null when nothing serves. */
  target(): EngineTarget | null {
    return this.active.target()
  }

  capabilities(model: string): EngineCapabilities {
    const entry = this.entryFor(model)
    return this.backendFor(entry).capabilities(entry)
  }

  /** Why a batch request for `model` cannot go out now (the engine loads, restarts or failed), or null. */
  blockedReason(model: string): { kind: 'engine_loading' | 'engine_unavailable'; detail: string } | null {
    const b = this.active
    if (b.currentState === 'ready' && b.model === model) return null
    if (b.currentState === 'starting' || b.currentState === 'waking' || b.currentState === 'sleeping') {
      const what = b.currentState === 'waking' ? 'waking' : 'loading'
      const detail = b.model === model ? (b.lastError ?? `${what} ${model}`) : `switching to ${model}`
      return { kind: 'engine_loading', detail: `waiting for engine: ${detail.split('\n')[0]}` }
    }
    const failure = b.lastFailure()
    return { kind: 'engine_unavailable', detail: `waiting for engine: ${failure ? failure.error.message.split('\n')[0] : b.currentState}` }
  }

  /** A request could not connect to the engine of `model`: its backend checks at once (a remote goes on hold). */
  suspect(model: string, reason: string): void {
    if (this.active.model === model) this.active.suspect(reason)
  }

  /**
   * The model started when none is named: models.yaml's default, or, where that one cannot run here (vLLM not
   * installed), its embedded default (a llama.cpp model), so a fresh machine runs batches out of the box.
   */
  defaultModel(): string | null {
    const registry = this.registry()
    const id = registry.defaultModel
    const entry = id === null ? undefined : registry.resolve(id)
    if (!entry) return registry.embeddedDefault
    try {
      this.backendFor(entry).check(entry)
      return entry.id
    } catch {
      return registry.embeddedDefault ?? entry.id
    }
  }

  /** Makes `model` (a registry id) run and counts one request in flight on it. Throws ApiError 503 otherwise. */
  async acquire(model: string, signal?: AbortSignal): Promise<EngineTicket> {
    const entry = this.entryFor(model)
    const lease = this.leases[0]
    if (lease && lease.model !== entry.id) throw this.busy(lease)
    if (!this.runs(entry.id)) {
      this.checkCooldown(entry)
      await this.bounded(this.load(entry), entry.id, signal)
      const after = this.leases[0]
      if (after && after.model !== entry.id) throw this.busy(after)
    }
    if (!this.runs(entry.id)) return this.acquire(model, signal) // another swap got in first: queue again
    const target = this.active.target()
    if (!target) return this.acquire(model, signal)
    this.inFlight += 1
    this.lastUsed = Date.now()
    let released = false
    return {
      target,
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
    const entry = this.entryFor(model ?? this.defaultModel() ?? '')
    const lease = this.leases[0]
    if (lease && lease.model !== entry.id) throw this.busy(lease)
    this.checkRunnable(entry)
  }

  /** Throws the 503 for an entry whose engine cannot run here at all (vLLM not installed, a key not set). */
  private checkRunnable(entry: ModelEntry): void {
    const backend = this.backendFor(entry)
    try {
      backend.check(entry)
    } catch (err) {
      if (!(err instanceof EngineError)) throw err
      if (backend === this.active) backend.markUnavailable(err)
      throw unavailable(err, this.o.retryAfterSeconds)
    }
  }

  /** Explicit start (tray, API): tries again even after a recent failure (no cooldown check). */
  async start(model?: string): Promise<void> {
    const entry = this.entryFor(model ?? this.defaultModel() ?? '')
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
    // The models asleep in the warm pool go too: a stop frees the GPU (a sleeper keeps its CUDA context) and RAM.
    await this.enqueue(async () => {
      await this.active.stop()
      for (const b of this.backends) if (b !== this.active && (b.warm?.().length ?? 0) > 0) await b.stop()
    })
  }

  /** Stops the engine for good (service shutdown), whatever holds it. */
  async shutdown(): Promise<void> {
    if (this.idleTimer) clearInterval(this.idleTimer)
    await this.enqueue(async () => {
      for (const b of this.backends) await b.stop('service stopping')
    })
  }

  private backendFor(entry: ModelEntry): EngineBackend {
    const backend = this.backends.find((b) => b.handles(entry.engine))
    if (!backend) throw new Error(`no engine runs ${entry.engine} models`)
    return backend
  }

  /** One load per model at a time, queued behind other engine operations in arrival order. */
  private load(entry: ModelEntry): Promise<void> {
    const pending = this.loads.get(entry.id)
    if (pending) return pending
    const run = this.enqueue(async () => {
      if (this.runs(entry.id)) return
      const backend = this.backendFor(entry)
      const current = this.active
      if (current === backend && current.currentState === 'starting' && current.model === entry.id) {
        await current.whenSettled()
        if (this.runs(entry.id)) return
      }
      if (current.currentState !== 'stopped' && current.currentState !== 'failed') {
        await this.drain()
        // The warm pool switches between its own engines itself (putting a model to sleep rather than stopping it).
        const reason = `switching to ${entry.id}`
        if (current !== backend) await (current.release ? current.release(reason) : current.stop(reason))
        else if (!current.warm) await current.stop(reason)
      }
      this.active = backend
      await backend.start(entry)
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

  private checkCooldown(entry: ModelEntry): void {
    // vLLM missing is checked afresh every time: installing it must not wait out a cooldown.
    this.checkRunnable(entry)
    const model = entry.id
    // A model that just failed to load is not loaded again by every request that follows; one that crashed
    // over and over stays down until someone starts it on purpose. A remote that is down right now answers
    // at once too, rather than keeping the client waiting.
    const backend = this.backendFor(entry)
    const outage = backend === this.active && backend.model === model ? backend.outage() : null
    if (outage) throw unavailable(new EngineError(outage, 'unreachable'), this.o.retryAfterSeconds)
    const failed = backend.lastFailure()
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
    if (this.active.currentState !== 'ready') return
    if (Date.now() - this.lastUsed < this.o.idleUnloadMs) return
    this.log.info({ model: this.active.model }, 'unloading the model: idle')
    void this.enqueue(async () => {
      if (this.inFlight === 0 && this.leases.length === 0 && Date.now() - this.lastUsed >= this.o.idleUnloadMs) {
        await this.active.stop('idle')
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
