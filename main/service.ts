import http from 'node:http'
import type { AddressInfo } from 'node:net'
import fs from 'node:fs'
import type { Logger } from 'pino'
import { loadApiKey } from './config/api-key'
import { ensureModelsFile, loadModels, type ModelRegistry } from './config/models'
import { loadSettings, type Settings } from './config/settings'
import { BatchService } from './batch/batch-service'
import { ServiceEvents } from './events'
import { createLogger } from './logger'
import { createApp } from './server/app'
import { openStore, type Store } from './store'
import { FileStorage } from './store/file-storage'
import { VERSION } from './version'

export interface ServiceOptions {
  env?: NodeJS.ProcessEnv
  /** Settings that win over the environment (tests pass port 0 and a temp data dir here). */
  overrides?: Partial<Settings>
}

/** How often expired files are looked for. */
const EXPIRY_SWEEP_MS = 10 * 60 * 1000

/**
 * The composition root: config -> store -> batch -> server. The same service runs inside the Electron
 * app and headless (`npm run serve`).
 */
export class Service {
  readonly settings: Settings
  readonly apiKey: string
  /** Where the API key is kept (a file path, or the environment variable). */
  readonly apiKeyOrigin: string
  readonly modelsPath: string
  readonly log: Logger
  readonly events = new ServiceEvents()
  readonly store: Store
  readonly files: FileStorage
  readonly batches: BatchService
  private registry: ModelRegistry
  private server: http.Server | null = null
  private sweepTimer: NodeJS.Timeout | null = null
  private readonly startedAt = Date.now()

  constructor(options: ServiceOptions = {}) {
    this.settings = loadSettings(options.env ?? process.env, options.overrides)
    fs.mkdirSync(this.settings.dataDir, { recursive: true, mode: 0o700 })
    const key = loadApiKey(this.settings.dataDir, this.settings.apiKey)
    this.apiKey = key.key
    this.apiKeyOrigin = key.origin
    this.log = createLogger(this.settings.dataDir, this.settings.logLevel)
    this.modelsPath = ensureModelsFile(this.settings.modelsPath, this.settings.dataDir)
    this.registry = loadModels(this.modelsPath)
    this.store = openStore(this.settings.dataDir)
    this.files = new FileStorage(this.settings.dataDir, this.store, this.events, this.log)
    this.batches = new BatchService({
      store: this.store,
      settings: this.settings,
      registry: () => this.registry,
      files: this.files,
      events: this.events,
      log: this.log,
    })
  }

  get models(): ModelRegistry {
    return this.registry
  }

  /** Starts listening; resolves with the base URL once the port is bound. */
  async start(): Promise<string> {
    this.files.sweepOnStart()
    this.files.sweepExpired()
    this.batches.recover()
    const app = createApp({
      settings: this.settings,
      apiKey: () => this.apiKey,
      store: this.store,
      files: this.files,
      batches: this.batches,
      log: this.log,
      version: VERSION,
      startedAt: this.startedAt,
    })
    const server = http.createServer(app.callback())
    // Large uploads over a LAN can take longer than Node's default five minutes.
    server.requestTimeout = 0
    server.keepAliveTimeout = 65_000
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

  get port(): number {
    return (this.server?.address() as AddressInfo).port
  }

  /** Stops accepting requests, lets work in hand stop at a safe point, and closes the database. */
  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer)
    const server = this.server
    this.server = null
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      const force = setTimeout(() => server.closeAllConnections(), 5000)
      await closed
      clearTimeout(force)
    }
    await this.batches.stop()
    this.log.info('service stopped')
    this.store.close()
    await new Promise<void>((resolve) => this.log.flush(() => resolve()))
  }
}
