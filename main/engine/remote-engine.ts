import type { Logger } from 'pino'
import type { EngineKind, ModelEntry } from '../config/models'
import type { ServiceEvents } from '../events'
import type { EngineBackend, EngineCapabilities, EngineTarget } from './engine-backend'
import type { EngineLog } from './engine-log'
import { ENGINE_TRANSITIONS, EngineError, type EngineState, type EngineStatus } from './engine-types'
import { openAiUrl, upstreamRequest } from './upstream'

export interface RemoteEngineOptions {
  env: NodeJS.ProcessEnv
  /** How long one probe (GET /v1/models) may take. */
  probeTimeoutMs: number
  /** How often a ready remote is probed. */
  probeIntervalMs: number
  /** First wait before probing a remote that went down again; doubled per failed probe, up to backoffMaxMs. */
  backoffBaseMs: number
  backoffMaxMs: number
  engineLog: EngineLog
  log: Logger
  events: ServiceEvents
}

/** Requests a batch keeps in flight on a remote server that does not say (max_concurrency). */
export const DEFAULT_REMOTE_CONCURRENCY = 16

type ProbeResult = { ok: true } | { ok: false; reason: string; refused: boolean }

/**
 * An OpenAI-compatible server elsewhere (another vLLM, llama-swap, a cluster's router, a hosted API): nothing
 * to start or supervise, only probed. `ready` while it answers; when it stops answering (a probe, or a request
 * that could not connect) it goes back to `starting` and is probed with backoff until it answers again, so a
 * batch waits with the reason on it instead of failing its requests in a storm. Its key is sent only to its
 * own base_url, and never logged or shown.
 */
export class RemoteEngine implements EngineBackend {
  private state: EngineState = 'stopped'
  private entry: ModelEntry | null = null
  private error: string | null = null
  private failure: { model: string; at: number; error: EngineError } | null = null
  private startedAt: number | null = null
  private readyAt: number | null = null
  private timer: NodeJS.Timeout | null = null
  private starting: Promise<void> | null = null
  /** Failed probes since the remote was last seen answering (drives the backoff). */
  private misses = 0
  /** Bumped by every start and stop, so a probe that ends late does not act on a newer state. */
  private epoch = 0

  constructor(private readonly o: RemoteEngineOptions) {}

  get currentState(): EngineState {
    return this.state
  }

  get model(): string | null {
    return this.entry?.id ?? null
  }

  handles(kind: EngineKind): boolean {
    return kind === 'remote'
  }

  status(): EngineStatus {
    return {
      kind: 'remote',
      state: this.state,
      model: this.entry?.id ?? null,
      pid: null,
      port: null,
      phase: null,
      startedAt: this.startedAt,
      readyAt: this.readyAt,
      uptimeS: this.readyAt && this.state === 'ready' ? Math.round((Date.now() - this.readyAt) / 1000) : null,
      lastError: this.error,
      restarts: 0,
      logTail: this.o.engineLog.lines(50),
      download: null,
      remoteUrl: this.entry?.base_url ?? null,
      pool: [],
    }
  }

  capabilities(entry: ModelEntry): EngineCapabilities {
    // Hosted APIs refuse unknown fields: vLLM's `priority` is not sent to a remote server.
    return { embeddings: true, priority: false, batchConcurrency: entry.max_concurrency ?? DEFAULT_REMOTE_CONCURRENCY }
  }

  target(): EngineTarget | null {
    const entry = this.entry
    if (this.state !== 'ready' || !entry?.base_url) return null
    const base = entry.base_url
    const key = this.keyOf(entry)
    return {
      url: (p) => openAiUrl(base, p),
      headers: key ? { authorization: `Bearer ${key}` } : {},
      served: entry.served_model ?? entry.id,
      priority: false,
      allowPromptEmbeds: entry.allow_prompt_embeds === true,
    }
  }

  check(entry: ModelEntry): void {
    if (!entry.base_url) throw new EngineError(`${entry.id} has no base_url in models.yaml`, 'misconfigured')
    if (entry.api_key_env && !this.o.env[entry.api_key_env]) {
      throw new EngineError(
        `${entry.id}: the environment variable ${entry.api_key_env} (its api_key_env) is not set: set it to the API key of ${entry.base_url} and start the service again`,
        'misconfigured',
      )
    }
  }

  markUnavailable(err: EngineError): void {
    this.error = err.message
    if (this.state === 'stopped' || this.state === 'failed') this.transition('failed')
  }

  lastFailure(): { model: string; at: number; error: EngineError } | null {
    return this.state === 'failed' ? this.failure : null
  }

  async whenSettled(): Promise<void> {
    while (this.starting) await this.starting.catch(() => undefined)
  }

  /** Resolves once the remote answers a probe; rejects with an EngineError when it does not. */
  async start(entry: ModelEntry): Promise<void> {
    if (this.state !== 'stopped' && this.state !== 'failed') throw new Error(`cannot start ${entry.id}: the engine is ${this.state}`)
    this.starting = this.connect(entry)
    try {
      await this.starting
    } finally {
      this.starting = null
    }
  }

  private async connect(entry: ModelEntry): Promise<void> {
    const epoch = ++this.epoch
    this.entry = entry
    this.misses = 0
    this.error = null
    this.startedAt = Date.now()
    this.readyAt = null
    try {
      this.check(entry)
    } catch (err) {
      this.fail(err as EngineError)
      throw err
    }
    this.transition('starting')
    this.o.engineLog.note(`connecting to ${entry.id} at ${entry.base_url} (remote)`)
    const probe = await this.probe(entry)
    if (epoch !== this.epoch || this.state !== 'starting') throw new EngineError(`start of ${entry.id} was interrupted (${this.state})`, 'stopped')
    if (!probe.ok) {
      const error = probe.refused
        ? new EngineError(`${entry.id} at ${entry.base_url} ${probe.reason}`, 'misconfigured')
        : new EngineError(`${entry.id} at ${entry.base_url} is not answering (${probe.reason})`, 'unreachable')
      this.o.engineLog.note(error.message)
      this.fail(error)
      throw error
    }
    this.up(entry)
  }

  async stop(reason = 'stop requested'): Promise<void> {
    this.epoch += 1
    this.clearTimer()
    if (this.state === 'stopped') return
    if (this.state !== 'stopping') {
      this.transition('stopping')
      this.o.engineLog.note(`disconnecting from ${this.entry?.id ?? 'the remote'} (${reason})`)
    }
    this.readyAt = null
    this.transition('stopped')
  }

  get lastError(): string | null {
    return this.error
  }

  /** While a remote that went down is probed again, requests are told at once rather than kept waiting. */
  outage(): string | null {
    return this.state === 'starting' ? this.error : null
  }

    suspect(reason: string): void {
    if (this.state === 'ready' && this.entry) this.down(this.entry, reason)
  }

  private up(entry: ModelEntry): void {
    this.misses = 0
    this.error = null
    this.readyAt = Date.now()
    this.transition('ready')
    this.o.engineLog.note(`${entry.id} at ${entry.base_url} answers`)
    this.schedule(entry, this.o.probeIntervalMs)
  }

  /** The remote stopped answering: hold everything and probe with backoff until it answers again. */
  private down(entry: ModelEntry, reason: string): void {
    this.misses += 1
    const wait = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** (this.misses - 1))
    this.error = `${entry.id} at ${entry.base_url} is not answering (${reason}); probing again in ${Math.max(1, Math.round(wait / 1000))} s`
    this.readyAt = null
    if (this.state === 'ready') {
      this.o.log.warn({ model: entry.id, reason }, 'remote engine is not answering')
      this.o.engineLog.note(this.error)
      this.transition('starting')
    } else {
      this.announce()
    }
    this.schedule(entry, wait)
  }

  private schedule(entry: ModelEntry, ms: number): void {
    this.clearTimer()
    const epoch = this.epoch
    this.timer = setTimeout(() => {
      this.timer = null
      void this.probe(entry).then((result) => {
        if (epoch !== this.epoch || (this.state !== 'ready' && this.state !== 'starting')) return
        if (result.ok) {
          if (this.state === 'starting') this.up(entry)
          else this.schedule(entry, this.o.probeIntervalMs)
        } else {
          this.down(entry, result.reason)
        }
      })
    }, ms)
    this.timer.unref()
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  /** GET {base_url}/models with the key: any answer but 401/403 or 5xx means it serves. */
  private probe(entry: ModelEntry): Promise<ProbeResult> {
    const key = this.keyOf(entry)
    return new Promise((resolve) => {
      let settled = false
      const done = (r: ProbeResult): void => {
        if (!settled) resolve(r)
        settled = true
      }
      const req = upstreamRequest(
        openAiUrl(entry.base_url!, '/v1/models'),
        { method: 'GET', timeout: this.o.probeTimeoutMs, headers: key ? { authorization: `Bearer ${key}` } : {} },
        (res) => {
          res.resume()
          const status = res.statusCode ?? 0
          if (status === 401 || status === 403) {
            done({ ok: false, refused: true, reason: `refused the API key (HTTP ${status}): check ${entry.api_key_env ?? 'api_key_env'}` })
          } else if (status >= 500) done({ ok: false, refused: false, reason: `HTTP ${status}` })
          else done({ ok: true })
        },
      )
      req.once('timeout', () => req.destroy(new Error(`no answer within ${this.o.probeTimeoutMs} ms`)))
      req.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, refused: false, reason: err.code ?? err.message }))
      req.end()
    })
  }

  private keyOf(entry: ModelEntry): string | null {
    return entry.api_key_env ? (this.o.env[entry.api_key_env] ?? null) || null : null
  }

  private fail(error: EngineError): void {
    this.error = error.message
    this.failure = { model: this.entry?.id ?? '', at: Date.now(), error }
    this.transition('failed')
  }

  private transition(to: EngineState): void {
    const from = this.state
    if (from !== to && !ENGINE_TRANSITIONS[from].includes(to)) throw new Error(`engine cannot go from ${from} to ${to}`)
    this.state = to
    this.o.log.info({ from, to, model: this.entry?.id, error: to === 'failed' ? this.error : undefined }, `engine (remote): ${from} -> ${to}`)
    this.announce(from)
  }

  private announce(from: EngineState = this.state): void {
    this.o.events.emit('engine.state', { from, status: this.status() })
  }
}
