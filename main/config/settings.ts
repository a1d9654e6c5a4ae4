import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BatchHoursError, parseBatchHours } from '../contract/batch-hours'
import { DATA_DIR_NAME } from '../contract/service-file'

/**
 * Settings: built-in defaults < `settings.json` in the data dir < environment (`VBS_*`).
 * The data dir itself comes only from the environment (it holds settings.json).
 */
export interface Settings {
  dataDir: string
  host: string
  port: number
  /** Key clients send as `Authorization: Bearer`. From VBS_API_KEY or the key file; filled in by loadApiKey. */
  apiKey: string | null
  /** The models.yaml registry the service reads; empty = `<data>/models.yaml`. */
  modelsPath: string
  maxFileBytes: number
  maxJsonBodyBytes: number
  maxLineBytes: number
  maxRequestsPerBatch: number
  maxActiveBatches: number
  maxQueuedRequests: number
  /** Seconds a client is told to wait (Retry-After) when a queue limit answers 429. */
  retryAfterSeconds: number
  /** At most this many per-line errors are listed on a failed batch; the rest are counted. */
  maxReportedErrors: number
  logLevel: string
  /** The vLLM command: a name on PATH or a path. */
  vllmBin: string
  /** Port of the engine on loopback; 0 = a free port per launch. */
  enginePort: number
  engineHealthPollMs: number
  /** Default load timeout when a model has no load_timeout_s. */
  engineLoadTimeoutS: number
  engineStopGraceMs: number
  engineKillWaitMs: number
  gpuReleaseTimeoutMs: number
  /** Longest wait for one answer of the engine's GET /health (readiness polls and the monitor of a ready engine). */
  engineHealthTimeoutMs: number
  /** Longest wait for a one-off nvidia-smi query (free VRAM before a start, GPU release after a stop). */
  nvidiaSmiTimeoutMs: number
  engineRestartLimit: number
  engineRestartWindowMs: number
  engineRestartBackoffMs: number
  /** How long a request waits for its model to load before 503. */
  engineWaitMs: number
  swapDrainMs: number
  engineFailCooldownMs: number
  /** Stop the engine after this many idle minutes; 0 = never. */
  idleUnloadMinutes: number
  /**
   * Host RAM (GiB) the sleeping engines of the warm pool may hold together (models with `sleep: true`); 0 = none
   * sleeps. null = half the RAM free when the service starts (see warmPoolBudgetGb).
   */
  warmPoolGb: number | null
  engineLogMaxBytes: number
  engineLogFiles: number
  /** Where `hf:` model files are downloaded from (Hugging Face, or a mirror). */
  hfEndpoint: string
  /** How often a ready remote engine is probed (GET /v1/models). */
  remoteProbeMs: number
  /** Longest wait between probes of a remote engine that is down (the wait doubles from 1 s up to this). */
  remoteBackoffMaxMs: number
  /** Longest wait for one probe of a remote engine (GET /v1/models). */
  remoteProbeTimeoutMs: number
  /** Largest body of a real-time request (chat with images can be large). */
  maxInferenceBodyBytes: number
  /** vLLM priority of interactive requests (lower runs first); batch requests use batchPriority. */
  interactivePriority: number
  batchPriority: number
  /** Requests per chunk read from the input file. */
  chunkSize: number
  /** Requests in flight per batch; 0 = the engine's own (vLLM's max_num_seqs, twice llama.cpp's parallel, a remote's max_concurrency). */
  batchConcurrency: number
  maxAttempts: number
  retryBaseMs: number
  batchRequestTimeoutMs: number
  /** A results transaction holds at most this many rows or what came within commitMs. */
  commitRows: number
  commitMs: number
  /** How long requests in flight may finish after a cancel or expiry. */
  cancelDrainMs: number
  /** How long requests in flight may finish when the service stops (the rest run again after restart). */
  shutdownDrainMs: number
  gpuPollMs: number
  thermalPauseC: number
  thermalResumeC: number
  /** The desktop app starts when the user logs in (the Electron shell applies it). */
  startAtLogin: boolean
  /** Uploads and result commits keep at least this much disk free in the data dir (MiB). */
  minFreeMb: number
  /** Most bytes all stored files (uploads and outputs) may take together; 0 = no quota. */
  maxStoredBytes: number
  /** Key that lets a LAN client change settings and the engine (admin actions); null = only loopback may. */
  adminKey: string | null
  /** Host headers accepted besides this machine's own names and addresses, comma-separated (DNS rebinding guard). */
  allowedHosts: string
  /** Open connections at most, in total and per client address. */
  maxConnections: number
  maxConnectionsPerClient: number
  /** Longest a request may take to arrive whole (uploads are also held to uploadMinBytesPerSecond). */
  requestTimeoutMs: number
  /** Longest a client may take to send its request headers. */
  headersTimeoutMs: number
  /** How long an idle keep-alive connection stays open (above the 60 s of common proxies and SDK pools). */
  keepAliveTimeoutMs: number
  /** On stop, how long busy connections get to finish before they are cut. */
  shutdownCloseMs: number
  /** An upload slower than this (averaged over several seconds) is cut off. */
  uploadMinBytesPerSecond: number
  /** Event streams (/api/events) open at once. */
  maxEventStreams: number
  /** Real-time requests whose body is parsed and waiting for the engine (a model load): at most this many, ... */
  maxWaitingBodies: number
  /** ... and at most this many bytes together. */
  maxWaitingBodyBytes: number
  /** Hosts vLLM may fetch image_url / video_url parts from, comma-separated; empty = none. */
  allowedMediaDomains: string
  /** A queued job waits at most this long behind jobs for other models (whose model is loaded) before it goes first. */
  maxQueueWaitMinutes: number
  /** The daily window batches run in, local time (`22:00-07:00` crosses midnight); '' = at any hour. */
  batchHours: string
  /** Batches run only while the desktop is idle (the Electron app; ignored headless). */
  batchWhenIdle: boolean
  /** The desktop counts as idle after this many seconds without input (with batchWhenIdle). */
  batchIdleSeconds: number
  /** The runner narrows its in-flight window while the GPU draws more than this many watts; 0 = no cap. */
  gpuPowerLimitW: number
  /**
   * The Standard Webhooks secret (`whsec_<base64>`) that signs deliveries to URLs a batch names in its metadata
   * (`webhook_url`); null = one is generated into <data>/webhook-secret.
   */
  webhookSecret: string | null
  /** How long a webhook receiver may take to answer one delivery. */
  webhookTimeoutMs: number
  /** A webhook not delivered within this many hours of its event becomes a dead letter. */
  webhookMaxAgeHours: number
}

type NumericKey = {
  [K in keyof Settings]: Settings[K] extends number ? K : never
}[keyof Settings]
type BooleanKey = {
  [K in keyof Settings]: Settings[K] extends boolean ? K : never
}[keyof Settings]
type StringKey = {
  [K in keyof Settings]: Settings[K] extends string ? K : never
}[keyof Settings]

const MiB = 1024 * 1024

/** Numeric settings that may have a fractional part. */
const FRACTIONAL = new Set<NumericKey>(['idleUnloadMinutes', 'maxQueueWaitMinutes'])

/** Settings that are true or false. */
const BOOLEAN = new Set<string>(['startAtLogin', 'batchWhenIdle'])

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : null
  return path.join(xdg ?? path.join(os.homedir(), '.local', 'share'), DATA_DIR_NAME)
}

export function defaultSettings(dataDir: string): Settings {
  return {
    dataDir,
    host: '0.0.0.0',
    port: 4080,
    apiKey: null,
    modelsPath: '',
    maxFileBytes: 512 * MiB,
    maxJsonBodyBytes: 1 * MiB,
    maxLineBytes: 16 * MiB,
    maxRequestsPerBatch: 200_000,
    maxActiveBatches: 10,
    maxQueuedRequests: 1_000_000,
    retryAfterSeconds: 30,
    maxReportedErrors: 1000,
    logLevel: 'info',
    vllmBin: 'vllm',
    enginePort: 0,
    engineHealthPollMs: 1000,
    engineLoadTimeoutS: 600,
    engineStopGraceMs: 20_000,
    engineKillWaitMs: 10_000,
    gpuReleaseTimeoutMs: 30_000,
    engineHealthTimeoutMs: 5000,
    nvidiaSmiTimeoutMs: 5000,
    engineRestartLimit: 3,
    engineRestartWindowMs: 10 * 60_000,
    engineRestartBackoffMs: 2000,
    engineWaitMs: 10 * 60_000,
    swapDrainMs: 60_000,
    engineFailCooldownMs: 30_000,
    idleUnloadMinutes: 0,
    warmPoolGb: null,
    engineLogMaxBytes: 10 * MiB,
    engineLogFiles: 3,
    hfEndpoint: 'https://huggingface.co',
    remoteProbeMs: 10_000,
    remoteBackoffMaxMs: 30_000,
    remoteProbeTimeoutMs: 5000,
    maxInferenceBodyBytes: 32 * MiB,
    interactivePriority: 0,
    batchPriority: 10,
    chunkSize: 5000,
    batchConcurrency: 0,
    maxAttempts: 3,
    retryBaseMs: 1000,
    batchRequestTimeoutMs: 10 * 60_000,
    commitRows: 200,
    commitMs: 100,
    cancelDrainMs: 30_000,
    shutdownDrainMs: 5000,
    gpuPollMs: 2000,
    thermalPauseC: 83,
    thermalResumeC: 75,
    startAtLogin: true,
    minFreeMb: 512,
    maxStoredBytes: 0,
    adminKey: null,
    webhookSecret: null,
    webhookTimeoutMs: 10_000,
    webhookMaxAgeHours: 24,
    allowedHosts: '',
    maxConnections: 1024,
    maxConnectionsPerClient: 256,
    requestTimeoutMs: 60 * 60_000,
    headersTimeoutMs: 30_000,
    keepAliveTimeoutMs: 65_000,
    shutdownCloseMs: 5000,
    uploadMinBytesPerSecond: 16 * 1024,
    maxEventStreams: 32,
    maxWaitingBodies: 64,
    maxWaitingBodyBytes: 256 * MiB,
    allowedMediaDomains: '',
    maxQueueWaitMinutes: 120,
    batchHours: '',
    batchWhenIdle: false,
    batchIdleSeconds: 300,
    gpuPowerLimitW: 0,
  }
}

/** Environment variable for each setting that may come from the environment. */
const ENV_NAMES: Record<Exclude<keyof Settings, 'dataDir'>, string> = {
  host: 'VBS_HOST',
  port: 'VBS_PORT',
  apiKey: 'VBS_API_KEY',
  modelsPath: 'VBS_MODELS',
  maxFileBytes: 'VBS_MAX_FILE_BYTES',
  maxJsonBodyBytes: 'VBS_MAX_JSON_BODY_BYTES',
  maxLineBytes: 'VBS_MAX_LINE_BYTES',
  maxRequestsPerBatch: 'VBS_MAX_REQUESTS_PER_BATCH',
  maxActiveBatches: 'VBS_MAX_ACTIVE_BATCHES',
  maxQueuedRequests: 'VBS_MAX_QUEUED_REQUESTS',
  retryAfterSeconds: 'VBS_RETRY_AFTER_SECONDS',
  maxReportedErrors: 'VBS_MAX_REPORTED_ERRORS',
  logLevel: 'VBS_LOG_LEVEL',
  vllmBin: 'VBS_VLLM_BIN',
  enginePort: 'VBS_ENGINE_PORT',
  engineHealthPollMs: 'VBS_ENGINE_HEALTH_POLL_MS',
  engineLoadTimeoutS: 'VBS_ENGINE_LOAD_TIMEOUT_S',
  engineStopGraceMs: 'VBS_ENGINE_STOP_GRACE_MS',
  engineKillWaitMs: 'VBS_ENGINE_KILL_WAIT_MS',
  gpuReleaseTimeoutMs: 'VBS_GPU_RELEASE_TIMEOUT_MS',
  engineHealthTimeoutMs: 'VBS_ENGINE_HEALTH_TIMEOUT_MS',
  nvidiaSmiTimeoutMs: 'VBS_NVIDIA_SMI_TIMEOUT_MS',
  engineRestartLimit: 'VBS_ENGINE_RESTART_LIMIT',
  engineRestartWindowMs: 'VBS_ENGINE_RESTART_WINDOW_MS',
  engineRestartBackoffMs: 'VBS_ENGINE_RESTART_BACKOFF_MS',
  engineWaitMs: 'VBS_ENGINE_WAIT_MS',
  swapDrainMs: 'VBS_SWAP_DRAIN_MS',
  engineFailCooldownMs: 'VBS_ENGINE_FAIL_COOLDOWN_MS',
  idleUnloadMinutes: 'VBS_IDLE_UNLOAD_MINUTES',
  warmPoolGb: 'VBS_WARM_POOL_GB',
  engineLogMaxBytes: 'VBS_ENGINE_LOG_MAX_BYTES',
  engineLogFiles: 'VBS_ENGINE_LOG_FILES',
  hfEndpoint: 'VBS_HF_ENDPOINT',
  remoteProbeMs: 'VBS_REMOTE_PROBE_MS',
  remoteBackoffMaxMs: 'VBS_REMOTE_BACKOFF_MAX_MS',
  remoteProbeTimeoutMs: 'VBS_REMOTE_PROBE_TIMEOUT_MS',
  maxInferenceBodyBytes: 'VBS_MAX_INFERENCE_BODY_BYTES',
  interactivePriority: 'VBS_INTERACTIVE_PRIORITY',
  batchPriority: 'VBS_BATCH_PRIORITY',
  chunkSize: 'VBS_CHUNK_SIZE',
  batchConcurrency: 'VBS_BATCH_CONCURRENCY',
  maxAttempts: 'VBS_MAX_ATTEMPTS',
  retryBaseMs: 'VBS_RETRY_BASE_MS',
  batchRequestTimeoutMs: 'VBS_BATCH_REQUEST_TIMEOUT_MS',
  commitRows: 'VBS_COMMIT_ROWS',
  commitMs: 'VBS_COMMIT_MS',
  cancelDrainMs: 'VBS_CANCEL_DRAIN_MS',
  shutdownDrainMs: 'VBS_SHUTDOWN_DRAIN_MS',
  gpuPollMs: 'VBS_GPU_POLL_MS',
  thermalPauseC: 'VBS_THERMAL_PAUSE_C',
  thermalResumeC: 'VBS_THERMAL_RESUME_C',
  startAtLogin: 'VBS_START_AT_LOGIN',
  minFreeMb: 'VBS_MIN_FREE_MB',
  maxStoredBytes: 'VBS_MAX_STORED_BYTES',
  adminKey: 'VBS_ADMIN_KEY',
  webhookSecret: 'VBS_WEBHOOK_SECRET',
  webhookTimeoutMs: 'VBS_WEBHOOK_TIMEOUT_MS',
  webhookMaxAgeHours: 'VBS_WEBHOOK_MAX_AGE_HOURS',
  allowedHosts: 'VBS_ALLOWED_HOSTS',
  maxConnections: 'VBS_MAX_CONNECTIONS',
  maxConnectionsPerClient: 'VBS_MAX_CONNECTIONS_PER_CLIENT',
  requestTimeoutMs: 'VBS_REQUEST_TIMEOUT_MS',
  headersTimeoutMs: 'VBS_HEADERS_TIMEOUT_MS',
  keepAliveTimeoutMs: 'VBS_KEEP_ALIVE_TIMEOUT_MS',
  shutdownCloseMs: 'VBS_SHUTDOWN_CLOSE_MS',
  uploadMinBytesPerSecond: 'VBS_UPLOAD_MIN_BYTES_PER_SECOND',
  maxEventStreams: 'VBS_MAX_EVENT_STREAMS',
  maxWaitingBodies: 'VBS_MAX_WAITING_BODIES',
  maxWaitingBodyBytes: 'VBS_MAX_WAITING_BODY_BYTES',
  allowedMediaDomains: 'VBS_ALLOWED_MEDIA_DOMAINS',
  maxQueueWaitMinutes: 'VBS_MAX_QUEUE_WAIT_MINUTES',
  batchHours: 'VBS_BATCH_HOURS',
  batchWhenIdle: 'VBS_BATCH_WHEN_IDLE',
  batchIdleSeconds: 'VBS_BATCH_IDLE_SECONDS',
  gpuPowerLimitW: 'VBS_GPU_POWER_LIMIT_W',
}

/** Lower bounds for the numeric settings (port 0 = any free port, used by tests). */
const MINIMUM: Record<NumericKey, number> = {
  port: 0,
  maxFileBytes: 1,
  maxJsonBodyBytes: 1024,
  maxLineBytes: 1024,
  maxRequestsPerBatch: 1,
  maxActiveBatches: 1,
  maxQueuedRequests: 1,
  retryAfterSeconds: 1,
  maxReportedErrors: 1,
  enginePort: 0,
  engineHealthPollMs: 10,
  engineLoadTimeoutS: 1,
  engineStopGraceMs: 0,
  engineKillWaitMs: 100,
  gpuReleaseTimeoutMs: 0,
  engineHealthTimeoutMs: 50,
  nvidiaSmiTimeoutMs: 100,
  engineRestartLimit: 0,
  engineRestartWindowMs: 1000,
  engineRestartBackoffMs: 0,
  engineWaitMs: 100,
  swapDrainMs: 0,
  engineFailCooldownMs: 0,
  idleUnloadMinutes: 0,
  engineLogMaxBytes: 64 * 1024,
  engineLogFiles: 1,
  remoteProbeMs: 50,
  remoteBackoffMaxMs: 10,
  remoteProbeTimeoutMs: 50,
  maxInferenceBodyBytes: 1024,
  interactivePriority: -1_000_000,
  batchPriority: -1_000_000,
  chunkSize: 1,
  batchConcurrency: 0,
  maxAttempts: 1,
  retryBaseMs: 0,
  batchRequestTimeoutMs: 1000,
  commitRows: 1,
  commitMs: 1,
  cancelDrainMs: 0,
  shutdownDrainMs: 0,
  gpuPollMs: 50,
  thermalPauseC: 1,
  thermalResumeC: 0,
  minFreeMb: 0,
  maxStoredBytes: 0,
  maxConnections: 1,
  maxConnectionsPerClient: 1,
  requestTimeoutMs: 1000,
  headersTimeoutMs: 1000,
  keepAliveTimeoutMs: 1000,
  shutdownCloseMs: 0,
  uploadMinBytesPerSecond: 0,
  maxEventStreams: 1,
  maxWaitingBodies: 1,
  maxWaitingBodyBytes: 1024,
  maxQueueWaitMinutes: 0,
  batchIdleSeconds: 1,
  gpuPowerLimitW: 0,
  webhookTimeoutMs: 100,
  webhookMaxAgeHours: 1,
}

/** Upper bounds where a larger value would harm the machine or make no sense. */
const MAXIMUM: Partial<Record<NumericKey, number>> = {
  port: 65535,
  enginePort: 65535,
  // Past this a GPU throttles itself or shuts down: the guard must act before.
  thermalPauseC: 95,
  thermalResumeC: 94,
  chunkSize: 100_000,
  // A result's search key is the batch's number times 2^24 plus its line (store/results-repo.ts).
  maxRequestsPerBatch: 16_000_000,
  // Past a week no job is held back by the swaps it would cause.
  maxQueueWaitMinutes: 7 * 24 * 60,
  gpuPowerLimitW: 2000,
}

/** Keys from the environment must be at least this long (a short key is guessable across the LAN). */
export const MIN_KEY_LENGTH = 32

export class SettingsError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SettingsError'
  }
}

/** settings.json cannot be read or is not JSON: the file itself must be fixed (nothing writes over it). */
export class SettingsFileError extends SettingsError {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message)
    this.name = 'SettingsFileError'
  }
}

export function settingsFilePath(dataDir: string): string {
  return path.join(dataDir, 'settings.json')
}

/** The settings.json keys a user may change from the dashboard, and which environment variable would override each. */
export const ENV_NAME_OF = ENV_NAMES

/** The most VBS_WARM_POOL_GB may be: more host RAM than any workstation has is a typo. */
const MAX_WARM_POOL_GB = 4096

/** VBS_WARM_POOL_GB's value: GiB (a fraction allowed), 0 for no pool, null (or "auto") for the default. */
function warmPoolGb(value: unknown, where: string): number | null {
  if (value === null || (typeof value === 'string' && value.trim().toLowerCase() === 'auto')) return null
  const n = typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > MAX_WARM_POOL_GB) {
    throw new SettingsError(
      `${where} must be the GiB of host RAM sleeping models may hold, a number from 0 (no model sleeps) to ${MAX_WARM_POOL_GB}, or "auto" (half the free RAM at start); got ${JSON.stringify(value)}`,
    )
  }
  return n
}

/** The warm pool's budget in GiB: the setting, or half the host RAM free right now (the service asks once, at start). */
export function warmPoolBudgetGb(settings: Pick<Settings, 'warmPoolGb'>, freeBytes = os.freemem()): number {
  return settings.warmPoolGb ?? Math.floor((freeBytes / 2 / 1024 ** 3) * 10) / 10
}

/** Reads settings for a data dir. Throws SettingsError naming the file or variable that is wrong. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Settings> = {}): Settings {
  const dataDir = path.resolve(overrides.dataDir ?? env.VBS_DATA_DIR ?? defaultDataDir(env))
  return settingsFrom(dataDir, readSettingsJson(settingsFilePath(dataDir)) ?? {}, env, overrides)
}

/**
 * settings.json parsed, or undefined when there is none. A file that cannot be read or parsed throws
 * SettingsFileError naming it and the parse error: it is never taken for "no settings", which the next save
 * would write over the user's own (half-edited) file.
 */
export function readSettingsJson(file: string): unknown {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new SettingsFileError(file, `cannot read ${file}: ${(err as Error).message}`)
  }
  const json = text.replace(/^\uFEFF/, '') // a byte-order mark some editors write
  try {
    return JSON.parse(json)
  } catch (err) {
    const detail = (err as Error).message
    const at = /at position (\d+)/.exec(detail)
    // Node 20's V8 gives only the offset; later ones add the line themselves.
    const where = at && !/\bline \d/.test(detail) ? ` (line ${lineColumn(json, Number(at[1]))})` : ''
    throw new SettingsFileError(
      file,
      `${file} is not valid JSON: ${detail}${where}. Fix the file or remove it (the defaults then apply); it is left as it is.`,
    )
  }
}

/** "3, column 7" for a character offset in text. */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  return `${line}, column ${offset - before.lastIndexOf('\n')}`
}

/** Settings from the file's content (already parsed), the environment and overrides, in that order of strength. */
export function settingsFrom(dataDir: string, fileContent: unknown, env: NodeJS.ProcessEnv, overrides: Partial<Settings> = {}): Settings {
  const settings = defaultSettings(dataDir)
  const file = settingsFilePath(dataDir)
  if (fileContent === null || typeof fileContent !== 'object' || Array.isArray(fileContent)) {
    throw new SettingsError(`${file} must hold a JSON object of settings`)
  }
  for (const [key, value] of Object.entries(fileContent as Record<string, unknown>)) {
    if (key === 'dataDir' || !(key in ENV_NAMES)) {
      throw new SettingsError(`${file}: unknown setting "${key}" (known: ${Object.keys(ENV_NAMES).join(', ')})`)
    }
    assign(settings, key as keyof typeof ENV_NAMES, value, `${file}: "${key}"`)
  }
  for (const [key, name] of Object.entries(ENV_NAMES) as [keyof typeof ENV_NAMES, string][]) {
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    if ((key === 'apiKey' || key === 'adminKey') && raw.trim().length < MIN_KEY_LENGTH) {
      throw new SettingsError(`${name} is too short: a key must be at least ${MIN_KEY_LENGTH} characters (it has ${raw.trim().length})`)
    }
    assign(settings, key, key === 'apiKey' || key === 'adminKey' ? raw.trim() : raw, name)
  }
  for (const [key, value] of Object.entries(overrides) as [keyof Settings, unknown][]) {
    if (key !== 'dataDir' && value !== undefined) assign(settings, key, value, `option ${key}`)
  }
  if (settings.thermalResumeC >= settings.thermalPauseC) {
    throw new SettingsError(
      `VBS_THERMAL_RESUME_C (${settings.thermalResumeC}) must be below VBS_THERMAL_PAUSE_C (${settings.thermalPauseC}): batches resume once the GPU has cooled below where they paused`,
    )
  }
  return settings
}

function assign(settings: Settings, key: Exclude<keyof Settings, 'dataDir'>, value: unknown, where: string): void {
  if (key === 'warmPoolGb') {
    settings.warmPoolGb = warmPoolGb(value, where)
    return
  }
  if (key in MINIMUM) {
    const numeric = key as NumericKey
    const fractional = FRACTIONAL.has(numeric)
    const pattern = fractional ? /^\s*-?\d+(\.\d+)?\s*$/ : /^\s*-?\d+\s*$/
    const n = typeof value === 'string' && pattern.test(value) ? Number(value) : value
    const ok = typeof n === 'number' && (fractional ? Number.isFinite(n) : Number.isSafeInteger(n))
    if (!ok || (n as number) < MINIMUM[numeric]) {
      throw new SettingsError(`${where} must be a ${fractional ? 'number' : 'whole number'} >= ${MINIMUM[numeric]}, got ${JSON.stringify(value)}`)
    }
    // Port 0 means any free port (tests); below 1024 needs root and collides with system services.
    if (numeric === 'port' && n !== 0 && ((n as number) < 1024 || (n as number) > 65535)) throw new SettingsError(`${where} must be a port number 1024-65535, got ${n}`)
    if (numeric === 'enginePort' && (n as number) > 65535) throw new SettingsError(`${where} must be a port number 0-65535, got ${n}`)
    const max = MAXIMUM[numeric]
    if (max !== undefined && (n as number) > max) throw new SettingsError(`${where} must be at most ${max}, got ${n}`)
    settings[numeric] = n as number
    return
  }
  if (BOOLEAN.has(key)) {
    const b = typeof value === 'string' ? { true: true, '1': true, false: false, '0': false }[value.trim().toLowerCase()] : value
    if (typeof b !== 'boolean') throw new SettingsError(`${where} must be true or false, got ${JSON.stringify(value)}`)
    settings[key as BooleanKey] = b
    return
  }
  if (typeof value !== 'string') {
    throw new SettingsError(`${where} must be a string, got ${JSON.stringify(value)}`)
  }
  if (key === 'apiKey' || key === 'adminKey') {
    settings[key] = value
    return
  }
  if (key === 'batchHours') {
    try {
      settings.batchHours = parseBatchHours(value)?.text ?? ''
    } catch (err) {
      if (err instanceof BatchHoursError) throw new SettingsError(`${where} ${err.message}`)
      throw err
    }
    return
  }
  if (key === 'webhookSecret') {
    // Standard Webhooks: whsec_ and the base64 of 24 to 64 random bytes.
    const body = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(value.trim())?.[1]
    const bytes = body ? Buffer.from(body, 'base64').length : 0
    if (bytes < 24 || bytes > 64) throw new SettingsError(`${where} must be a Standard Webhooks secret: whsec_ and the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32))`)
    settings.webhookSecret = value.trim()
    return
  }
  settings[key as StringKey] = value
}
