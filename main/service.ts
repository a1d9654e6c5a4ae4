import http from 'node:http'
import os from 'node:os'
import { shareableBaseUrl } from './contract/share-links'
import type { AddressInfo } from 'node:net'
import type net from 'node:net'
import fs from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import { loadApiKey, writeNewApiKey } from './config/api-key'
import { removeServiceFile, writeServiceFile } from './config/service-file'
import { lockedByEnvironment, readSettingsFile, updateSettingsFile } from './config/settings-file'
import { ensureModelsFile, loadModels, type ModelRegistry } from './config/models'
import { loadSettings, settingsFrom, warmPoolBudgetGb, type Settings } from './config/settings'
import { BatchService } from './batch/batch-service'
import { ServiceEvents } from './events'
import { createLogger } from './logger'
import { createApp } from './server/app'
import { answerClientErrors } from './server/client-error'
import { ConnectionGuard } from './server/connection-guard'
import { openStore, type Store } from './store'
import { FileService } from './files/file-service'
import { Engine } from './engine/engine'
import { WarmPool } from './engine/warm-pool'
import { EngineLog } from './engine/engine-log'
import { LlamaLauncher } from './engine/llama-launcher'
import { ModelDownloads } from './engine/model-download'
import { RemoteEngine } from './engine/remote-engine'
import { VllmLauncher } from './engine/vllm-launcher'
import { RequestCounters } from './server/request-counters'
import { NvidiaSmi } from './gpu/nvidia-smi'
import { Scheduler } from './batch/scheduler'
import { GpuTelemetry, type GpuSample } from './gpu/telemetry'
import { ThermalGuard, type ThermalDecision, type ThermalReading } from './gpu/thermal-guard'
import { VERSION } from './version'
import { BatchSchedule } from './batch/batch-schedule'
import { PowerGovernor } from './gpu/power-governor'
import type { EngineError } from './engine/engine-types'
import { ComparisonService } from './compare/comparison-service'
import { WebhookOutbox } from './webhooks/outbox'
import type { SelfAddress } from './webhooks/url-rules'

export interface ServiceOptions {
  env?: NodeJS.ProcessEnv
  /** Settings that win over the environment (tests pass port 0 and a temp data dir here). */
  overrides?: Partial<Settings>
  /** Window over which request bodies must keep up VBS_UPLOAD_MIN_BYTES_PER_SECOND (tests shorten it). */
  bodyRateWindowMs?: number
  /** The service's clock: the batch schedule (batch hours, queue aging) and the webhooks' retry schedule read it; tests inject one. */
  clock?: () => number
  /**
   * Seconds the desktop has been idle, for VBS_BATCH_WHEN_IDLE: the Electron shell passes powerMonitor's idle
   * time; headless there is none (null) and idle-only is ignored.
   */
  idleSeconds?: () => number | null
}

/** How often expired files are looked for. */
const EXPIRY_SWEEP_MS = 10 * 60 * 1000
/** How often the thermal guard looks at the clock for readings that stopped (samples feed it as they come). */
const THERMAL_RECHECK_MS = 1000
/** How often models.yaml is looked at for an edit. */
const MODELS_WATCH_MS = 1000

/**
 * The composition root: config -> store -> batch -> server. The same service runs inside the Electron
 * app and headless (`npm run serve`).
 */
export class Service {
  readonly settings: Settings
  private key: string
  /** Where the API key is kept (a file path, or the environment variable). */
  readonly apiKeyOrigin: string
  private readonly env: NodeJS.ProcessEnv
  private readonly overrides: Partial<Settings>
  readonly modelsPath: string
  readonly log: Logger
  readonly events = new ServiceEvents()
  readonly store: Store
  readonly files: FileService
  readonly batches: BatchService
  /** The supervised engines (vLLM, llama.cpp): the awake one and those asleep in the warm pool. */
  readonly supervisor: WarmPool
  /** VBS_WARM_POOL_GB as it applies now (half the free RAM at start when not set). */
  readonly warmPoolGb: number
  readonly remote: RemoteEngine
  readonly downloads: ModelDownloads
  readonly engineLog: EngineLog
  readonly engine: Engine
  readonly stats = new RequestCounters()
  readonly scheduler: Scheduler
  readonly comparisons: ComparisonService
  readonly webhooks: WebhookOutbox
  readonly gpu: GpuTelemetry
  readonly thermal: ThermalGuard
  /** Batch hours, idle-only and "run now anyway". */
  readonly schedule: BatchSchedule
  /** The power cap's in-flight window (VBS_GPU_POWER_LIMIT_W). */
  readonly power: PowerGovernor
  private thermalCheckedAt = 0
  private registry: ModelRegistry
  private registryError: string | null = null
  private server: http.Server | null = null
  /** Open connections and how many requests each is serving, so a stop can end the quiet ones at once. */
  private readonly connections = new Map<net.Socket, number>()
  private sweepTimer: NodeJS.Timeout | null = null
  private readonly startedAt = Date.now()
  private readonly bodyRateWindowMs: number | undefined

  constructor(options: ServiceOptions = {}) {
    this.env = options.env ?? process.env
    this.overrides = options.overrides ?? {}
    this.bodyRateWindowMs = options.bodyRateWindowMs
    this.settings = loadSettings(this.env, this.overrides)
    fs.mkdirSync(this.settings.dataDir, { recursive: true, mode: 0o700 })
    // mkdir's mode applies only to a new folder: one made or loosened earlier is tightened at every start.
    const chmodError = tighten(this.settings.dataDir)
    const key = loadApiKey(this.settings.dataDir, this.settings.apiKey)
    this.key = key.key
    this.apiKeyOrigin = key.origin
    this.log = createLogger(this.settings.dataDir, this.settings.logLevel)
    if (chmodError) this.log.warn({ dir: this.settings.dataDir, err: chmodError }, 'the data folder could not be made private (mode 0700): other users may read it')
    this.modelsPath = ensureModelsFile(this.settings.modelsPath, this.settings.dataDir)
    this.registry = loadModels(this.modelsPath)
    this.store = openStore(this.settings.dataDir)
    this.files = new FileService(this.settings.dataDir, this.store, this.events, this.log, {
      minFreeBytes: this.settings.minFreeMb * 1024 * 1024,
      maxStoredBytes: this.settings.maxStoredBytes,
    })
    this.batches = new BatchService({
      store: this.store,
      settings: this.settings,
      registry: () => this.registry,
      files: this.files,
      events: this.events,
      log: this.log,
    })
    const s = this.settings
    const env = options.env ?? process.env
    const engineLogger = this.log.child({ part: 'engine' })
    this.engineLog = new EngineLog(path.join(s.dataDir, 'logs', 'engine.log'), s.engineLogMaxBytes, s.engineLogFiles)
    this.downloads = new ModelDownloads({
      dir: path.join(s.dataDir, 'models'),
      endpoint: s.hfEndpoint,
      token: env.HF_TOKEN || undefined,
      log: engineLogger,
      events: this.events,
    })
    this.warmPoolGb = warmPoolBudgetGb(s)
    const supervisor = {
      launchers: [new VllmLauncher(s.vllmBin, env, { allowedMediaDomains: s.allowedMediaDomains }), new LlamaLauncher(this.downloads, env)],
      downloads: this.downloads,
      engineLog: this.engineLog,
      dataDir: s.dataDir,
      port: s.enginePort,
      healthPollMs: s.engineHealthPollMs,
      healthTimeoutMs: s.engineHealthTimeoutMs,
      loadTimeoutS: s.engineLoadTimeoutS,
      stopGraceMs: s.engineStopGraceMs,
      killWaitMs: s.engineKillWaitMs,
      gpuReleaseTimeoutMs: s.gpuReleaseTimeoutMs,
      restartLimit: s.engineRestartLimit,
      restartWindowMs: s.engineRestartWindowMs,
      restartBackoffMs: s.engineRestartBackoffMs,
      gpu: new NvidiaSmi('nvidia-smi', s.nvidiaSmiTimeoutMs, env),
      log: engineLogger,
      events: this.events,
    }
    this.supervisor = new WarmPool({ supervisor, budgetGb: this.warmPoolGb, log: engineLogger, foregroundStatus: () => this.engine.status() })
    this.remote = new RemoteEngine({
      env,
      probeTimeoutMs: s.remoteProbeTimeoutMs,
      probeIntervalMs: s.remoteProbeMs,
      backoffBaseMs: Math.min(1000, s.remoteBackoffMaxMs),
      backoffMaxMs: s.remoteBackoffMaxMs,
      engineLog: this.engineLog,
      log: engineLogger,
      events: this.events,
    })
    this.engine = new Engine(
      [this.supervisor, this.remote],
      () => this.registry,
      {
        waitMs: s.engineWaitMs,
        swapDrainMs: s.swapDrainMs,
        failCooldownMs: s.engineFailCooldownMs,
        idleUnloadMs: s.idleUnloadMinutes * 60_000,
        retryAfterSeconds: s.retryAfterSeconds,
      },
      engineLogger,
    )
    this.thermal = new ThermalGuard({ pauseC: s.thermalPauseC, resumeC: s.thermalResumeC })
    this.gpu = new GpuTelemetry({
      pollMs: s.gpuPollMs,
      env: options.env ?? process.env,
      log: this.log.child({ part: 'gpu' }),
      onSample: (sample) => this.onGpuSample(sample),
      onStatus: (status) => this.events.emit('gpu.status', status),
    })
    this.schedule = new BatchSchedule({
      settings: () => this.settings,
      clock: options.clock ?? Date.now,
      idleSeconds: options.idleSeconds ?? (() => null),
    })
    if (s.batchWhenIdle && !options.idleSeconds) {
      this.log.warn('VBS_BATCH_WHEN_IDLE is ignored: without the desktop app there is no idle time to read')
    }
    this.power = new PowerGovernor(() => this.settings.gpuPowerLimitW)
    this.scheduler = new Scheduler({
      store: this.store,
      files: this.files,
      lifecycle: this.batches.lifecycle,
      engine: this.engine,
      registry: () => this.registry,
      settings: s,
      log: this.log.child({ part: 'scheduler' }),
      events: this.events,
      thermal: () => this.thermalVerdict(),
      validation: (id) => this.batches.validation(id),
      disk: this.files.disk,
      schedule: this.schedule,
      power: this.power,
      // The models asleep in the warm pool wake in seconds: their jobs go before those that need a load.
      warmModels: () => new Set(this.engine.warmModels()),
    })
    this.webhooks = new WebhookOutbox({
      store: this.store,
      log: this.log.child({ part: 'webhooks' }),
      events: this.events,
      dataDir: s.dataDir,
      metadataSecret: s.webhookSecret,
      timeoutMs: s.webhookTimeoutMs,
      maxAgeHours: s.webhookMaxAgeHours,
      now: options.clock,
      self: () => this.selfAddress(),
      publicUrl: () => this.publicUrl(),
    })
    // A batch's end is written to the webhooks' outbox in the transaction that ends it.
    this.batches.lifecycle.observe(
      (batch, from, to) => this.webhooks.onTransition(batch, from, to),
      (fn) => this.store.db.transaction(fn)(),
    )
    this.events.on('batch.progress', ({ id, progress }) => {
      try {
        this.webhooks.onProgress(id, progress)
      } catch (err) {
        this.log.warn({ batch: id, err: (err as Error).message }, 'webhook progress not queued')
      }
    })
    this.comparisons = new ComparisonService({
      store: this.store,
      files: this.files,
      batches: this.batches,
      scheduler: this.scheduler,
      registry: () => this.registry,
    })
  }

  /** The key clients must send; it changes when regenerated. */
  get apiKey(): string {
    return this.key
  }

  /** A new API key, stored in the data dir; the old one stops working at once. */
  regenerateApiKey(): string {
    this.key = writeNewApiKey(this.settings.dataDir)
    this.log.warn('API key regenerated')
    this.events.emit('settings.changed', { settings: { ...this.settings, apiKey: null, adminKey: null } })
    return this.key
  }

  /**
   * Saves settings to settings.json (checked first; nothing is written when a value is wrong) and applies what
   * can change while running: thresholds, chunk size, start at login. Port and LAN apply at the next start.
   */
  updateSettings(patch: Partial<Settings>): Settings {
    const saved = updateSettingsFile(this.settings.dataDir, this.env, patch)
    this.thermal.setThresholds(saved.thermalPauseC, saved.thermalResumeC)
    this.settings.thermalPauseC = saved.thermalPauseC
    this.settings.thermalResumeC = saved.thermalResumeC
    this.settings.chunkSize = saved.chunkSize
    this.settings.startAtLogin = saved.startAtLogin
    this.settings.batchHours = saved.batchHours
    this.settings.batchWhenIdle = saved.batchWhenIdle
    this.settings.maxQueueWaitMinutes = saved.maxQueueWaitMinutes
    this.settings.gpuPowerLimitW = saved.gpuPowerLimitW
    this.scheduler.kick()
    this.log.info({ patch }, 'settings changed')
    this.events.emit('settings.changed', { settings: { ...this.settings, apiKey: null, adminKey: null } })
    return saved
  }

  /** The settings a restart would use: settings.json and the environment as they are now. */
  savedSettings(): Settings {
    return settingsFrom(this.settings.dataDir, readSettingsFile(this.settings.dataDir), this.env)
  }

  lockedSettings(): Partial<Record<keyof Settings, string>> {
    return lockedByEnvironment(this.env)
  }

  get models(): ModelRegistry {
    return this.registry
  }

  /** Starts listening; resolves with the base URL once the port is bound. */
  async start(): Promise<string> {
    this.files.sweepOnStart()
    this.files.sweepExpired()
    this.batches.recover()
    await this.supervisor.endLeftover()
    // Where the default model cannot run (vLLM not installed), the status says so at once, unless another
    // engine stands in for it (the registry's embedded default).
    const preferred = this.registry.defaultModel === null ? undefined : this.registry.resolve(this.registry.defaultModel)
    if (preferred?.engine === 'vllm') {
      try {
        this.supervisor.check(preferred)
      } catch (err) {
        this.log.warn((err as Error).message)
        if (this.engine.defaultModel() === preferred.id) this.supervisor.markUnavailable(err as EngineError)
      }
    }
    this.watchRegistry()
    await this.gpu.start()
    this.scheduler.start()
    const app = createApp({
      settings: this.settings,
      apiKey: () => this.key,
      store: this.store,
      files: this.files,
      batches: this.batches,
      comparisons: this.comparisons,
      log: this.log,
      version: VERSION,
      startedAt: this.startedAt,
      engine: this.engine,
      downloads: this.downloads,
      stats: this.stats,
      registry: () => this.registry,
      registryStatus: () => ({ path: this.modelsPath, error: this.registryError }),
      warmPoolGb: this.warmPoolGb,
      scheduler: this.scheduler,
      settingsControl: {
        settings: () => this.settings,
        saved: () => this.savedSettings(),
        update: (patch) => this.updateSettings(patch),
        apiKey: () => this.key,
        apiKeyOrigin: () => this.apiKeyOrigin,
        regenerateApiKey: () => this.regenerateApiKey(),
        locked: () => this.lockedSettings(),
        listening: () => ({ host: this.settings.host, port: this.port }),
        shareUrl: () => shareableBaseUrl(this.url, this.settings.host, os.networkInterfaces()),
      },
      gpu: this.gpu,
      thermal: this.thermal,
      events: this.events,
      webhooks: this.webhooks,
      bodyRateWindowMs: this.bodyRateWindowMs,
    })
    const s = this.settings
    // Node's timeouts bound how long a client may take to send its headers and its whole request (an upload is
    // also held to a minimum rate by the slow-body guard); they are checked this often.
    const headersTimeout = Math.min(s.headersTimeoutMs, s.requestTimeoutMs)
    const server = http.createServer(
      {
        requestTimeout: s.requestTimeoutMs,
        headersTimeout,
        keepAliveTimeout: s.keepAliveTimeoutMs,
        connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(headersTimeout / 4))),
      },
      app.callback(),
    )
    answerClientErrors(server, { headersTimeoutMs: headersTimeout, requestTimeoutMs: s.requestTimeoutMs, maxHeaderBytes: http.maxHeaderSize })
    new ConnectionGuard({
      maxConnections: s.maxConnections,
      maxPerClient: s.maxConnectionsPerClient,
      retryAfterSeconds: s.retryAfterSeconds,
      log: this.log,
    }).attach(server)
    server.on('connection', (socket) => {
      this.connections.set(socket, 0)
      socket.once('close', () => this.connections.delete(socket))
    })
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const socket = req.socket
      this.connections.set(socket, (this.connections.get(socket) ?? 0) + 1)
      res.once('close', () => {
        if (this.connections.has(socket)) this.connections.set(socket, Math.max(0, (this.connections.get(socket) ?? 1) - 1))
      })
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.settings.port, this.settings.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.server = server
    this.sweepTimer = setInterval(() => this.files.sweepExpired(), EXPIRY_SWEEP_MS)
    this.sweepTimer.unref()
    // Where a client on this machine (vbs) finds the service, whatever port it got.
    try {
      writeServiceFile(this.settings.dataDir, { url: this.url, pid: process.pid, version: VERSION, started_at: Date.now() })
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'service.json not written: vbs on this machine needs VBS_URL')
    }
    this.webhooks.start()
    this.log.info({ url: this.url, version: VERSION }, 'service started')
    return this.url
  }

  /** The URL clients on this machine use (a wildcard host is reached through loopback). */
  get url(): string {
    const address = this.server?.address() as AddressInfo | null
    if (!address) throw new Error('the service is not listening')
    const host = ['0.0.0.0', '::'].includes(address.address) ? '127.0.0.1' : address.address
    return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`
  }

  /**
   * The base URL of links given to other machines (webhook payloads): the LAN address when serving the LAN. Also
   * asked before the service listens (a batch that expired while it was off ends at start) and while it stops.
   */
  private publicUrl(): string {
    if (this.server) this.lastPublicUrl = shareableBaseUrl(this.url, this.settings.host, os.networkInterfaces())
    const host = ['0.0.0.0', '::'].includes(this.settings.host) ? '127.0.0.1' : this.settings.host
    return this.lastPublicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${this.settings.port}`
  }

  private lastPublicUrl: string | null = null

  /** This service as a URL could name it (a webhook may not point here), once it listens. */
  private selfAddress(): SelfAddress | null {
    if (!this.server) return null
    const hosts = new Set<string>([os.hostname().toLowerCase()])
    for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) hosts.add(a.address.toLowerCase())
    return { port: this.port, hosts }
  }

  get port(): number {
    return (this.server?.address() as AddressInfo).port
  }

  private onGpuSample(sample: GpuSample): void {
    this.events.emit('gpu.sample', sample)
    this.checkThermal({ temperatureC: sample.temperatureC, at: sample.at })
    if (this.power.update(sample.powerW)) {
      this.log.info({ powerW: sample.powerW, capW: this.power.cap, window: this.power.window }, `power cap: ${this.power.window} batch requests in flight at most`)
    }
  }

  /**
   * The guard's verdict for the scheduler, asked before every batch request. Samples feed the guard as they
   * arrive; the clock only matters for noticing readings that stopped, so that is checked once a second.
   */
  private thermalVerdict(): { paused: boolean; reason: string | null } {
    const now = Date.now()
    if (now - this.thermalCheckedAt >= THERMAL_RECHECK_MS) {
      this.thermalCheckedAt = now
      return this.checkThermal(this.gpu.reading(now))
    }
    return { paused: this.thermal.paused, reason: this.thermal.reason }
  }

  /** Feeds the thermal guard; a change (paused or resumed) is logged and announced. */
  private checkThermal(reading: ThermalReading): ThermalDecision {
    const decision = this.thermal.update(reading)
    if (decision.changed) {
      this.log.warn({ temperatureC: reading.temperatureC, paused: decision.paused }, decision.paused ? decision.reason ?? 'batches paused: GPU hot' : 'batches resumed: GPU cooled down')
      this.events.emit('thermal', decision)
    }
    return decision
  }

  /**
   * Reloads models.yaml when it changes. A broken edit keeps the registry in use (and says why in the engine
   * status); a running model is never disturbed: changed settings apply at its next load.
   */
  private watchRegistry(): void {
    fs.watchFile(this.modelsPath, { interval: MODELS_WATCH_MS }, (now, before) => {
      if (now.mtimeMs === before.mtimeMs && now.size === before.size) return
      try {
        this.registry = loadModels(this.modelsPath)
        this.registryError = null
        this.log.info({ file: this.modelsPath, models: this.registry.models.length }, 'models.yaml reloaded')
      } catch (err) {
        this.registryError = (err as Error).message
        this.log.error({ file: this.modelsPath, err: this.registryError }, 'models.yaml not reloaded: it has errors')
      }
    })
  }

  /** Stops accepting requests, lets work in hand stop at a safe point, stops the engine, closes the database. */
  async stop(): Promise<void> {
    fs.unwatchFile(this.modelsPath)
    if (this.sweepTimer) clearInterval(this.sweepTimer)
    const server = this.server
    this.server = null
    this.events.emit('service.stopping', {})
    if (server) removeServiceFile(this.settings.dataDir)
    if (server) {
      // A connection with no request in progress (kept alive, or opened and never used, which Node does not
      // count as idle) is ended at once; busy ones get a grace period to finish, then are cut.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      const endQuiet = (): void => {
        for (const [socket, active] of this.connections) if (active === 0) socket.destroy()
      }
      endQuiet()
      const sweep = setInterval(endQuiet, 50)
      const force = setTimeout(() => server.closeAllConnections(), this.settings.shutdownCloseMs)
      await closed
      clearInterval(sweep)
      clearTimeout(force)
    }
    await this.batches.stop()
    await this.scheduler.stop()
    await this.webhooks.stop()
    await this.gpu.stop()
    await this.engine.shutdown()
    this.engineLog.close()
    this.log.info('service stopped')
    this.store.close()
    await new Promise<void>((resolve) => this.log.flush(() => resolve()))
  }
}

/** Makes a folder private to its owner (mode 0700); the error's message when that fails (not its owner). */
function tighten(dir: string): string | null {
  try {
    if ((fs.statSync(dir).mode & 0o077) !== 0) fs.chmodSync(dir, 0o700)
    return null
  } catch (err) {
    return (err as Error).message
  }
}
