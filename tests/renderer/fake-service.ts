/**
 * A stand-in for the service in the renderer's component tests: a fake `fetch` (and XMLHttpRequest for the
 * upload) answering the dashboard's routes with fixtures, recording every call, and an event stream the test
 * writes to. The real service is exercised by the integration and end-to-end tests.
 */
import { vi } from 'vitest'
import type { EngineView, GpuView, Health, Job, JobPage, ModelObject, SettingsView } from '../../main/contract'

export interface Call {
  method: string
  /** Path and query, as the dashboard asked for it. */
  url: string
  path: string
  authorization: string | null
  body: unknown
  signal: AbortSignal | null
}

type Handler = (call: Call) => Response | Promise<Response>

export const json = (body: unknown, status = 200): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

export const envelope = (status: number, message: string, code: string | null = null, param: string | null = null): Response =>
  json({ error: { message, type: 'invalid_request_error', param, code } }, status)

export const health = (): Health => ({
  status: 'ok',
  problems: [],
  version: '0.1.0',
  uptime_s: 12,
  gpu: { available: true, reason: null, name: 'NVIDIA GeForce RTX 4080', temperature_c: 64, memory: { used_mib: 5120, total_mib: 16376 }, utilization_pct: 40, healthy: true },
  engine: { state: 'ready', model: 'gemma-3-12b', phase: 'ready', error: null },
  runner: { state: 'idle', beating: true, loop_error: null, heartbeat_age_s: 0.5, current_job: null, paused: false, paused_reason: null },
  disk: { full: false, reason: null, since: null, free_mb: 120_000, min_free_mb: 512 },
  queue: { active_jobs: 0, queued_requests: 0 },
  limits: { max_active_batches: 10, max_queued_requests: 1_000_000, max_requests_per_batch: 200_000, max_file_bytes: 536_870_912, thermal_pause_c: 83, thermal_resume_c: 75 },
})

export const engine = (over: Partial<EngineView> = {}): EngineView => ({
  kind: 'vllm',
  state: 'ready',
  model: 'gemma-3-12b',
  pid: 4242,
  port: 41000,
  phase: 'ready',
  startedAt: Date.now() - 200_000,
  readyAt: Date.now() - 100_000,
  uptimeS: 100,
  lastError: null,
  restarts: 0,
  logTail: ['INFO: Application startup complete.'],
  download: null,
  remoteUrl: null,
  defaultModel: 'gemma-3-12b',
  downloads: [],
  registry: { path: '/data/models.yaml', error: null },
  ...over,
})

const model = (m: Pick<ModelObject, 'id' | 'loaded' | 'aliases' | 'max_model_len' | 'description'>): ModelObject => ({
  object: 'model',
  created: 1_763_800_000,
  owned_by: 'vllm-batch-server',
  engine: 'vllm',
  capabilities: { embeddings: false, priority: true },
  downloaded: null,
  ...m,
})

export const models = (): ModelObject[] => [
  model({ id: 'gemma-3-12b', loaded: true, aliases: ['gemma'], max_model_len: 8192, description: 'Gemma 3 12B Instruct (INT4)' }),
  model({ id: 'llama-3.1-8b', loaded: false, aliases: [], max_model_len: 16384, description: 'Llama 3.1 8B (FP8)' }),
]

export const gpu = (over: Partial<GpuView> = {}): GpuView => {
  const now = Date.now()
  const history = Array.from({ length: 30 }, (_, i) => ({
    at: now - (30 - i) * 2000,
    temperatureC: 60 + (i % 5),
    memoryUsedMiB: 5120,
    memoryTotalMiB: 16376,
    utilizationPct: 40,
    powerW: 120,
    powerLimitW: 320,
    fanPct: 30,
  }))
  return {
    status: { available: true, reason: null },
    info: { name: 'NVIDIA GeForce RTX 4080', driverVersion: '550.54', vramTotalMiB: 16376, pciBusId: null, cpu: { brand: null, cores: null }, memoryTotalBytes: null },
    current: { ...history[history.length - 1], temperatureC: 64 },
    history,
    thermal: { paused: false, reason: null, pause_c: 83, resume_c: 75 },
    ...over,
  }
}

export const job = (over: Partial<Job> = {}): Job => ({
  id: 'batch_abc',
  object: 'batch',
  endpoint: '/v1/chat/completions',
  model: 'gemma-3-12b',
  errors: null,
  input_file_id: 'file-in',
  completion_window: '24h',
  status: 'in_progress',
  output_file_id: null,
  error_file_id: null,
  created_at: 1_763_800_000,
  in_progress_at: 1_763_800_001,
  expires_at: 1_763_886_400,
  finalizing_at: null,
  completed_at: null,
  failed_at: null,
  expired_at: null,
  cancelling_at: null,
  cancelled_at: null,
  request_counts: { total: 20_000, completed: 9_000, failed: 12 },
  usage: { input_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 },
  metadata: null,
  status_detail: null,
  hold: null,
  progress: null,
  running: false,
  ...over,
})

export const settings = (over: Partial<SettingsView> = {}): SettingsView => ({
  port: 4080,
  lan: true,
  host: '0.0.0.0',
  thermal_pause_c: 83,
  thermal_resume_c: 75,
  chunk_size: 5000,
  start_at_login: false,
  admin: true,
  api_key: 'k',
  api_key_origin: '/data/api-key',
  listening: { host: '0.0.0.0', port: 4080 },
  share_url: 'http://192.168.1.20:4080',
  restart_required: false,
  locked: {},
  ...over,
})

export class FakeService {
  readonly calls: Call[] = []
  private readonly routes = new Map<string, Handler>()
  private streams: ReadableStreamDefaultController<Uint8Array>[] = []
  /** The key the service accepts (null: any). */
  acceptKey: string | null = null
  jobs: JobPage = { object: 'list', data: [], has_more: false, paused: false }

  constructor() {
    this.on('GET', '/health', () => json(health()))
    this.on('GET', '/api/engine', () => json(engine()))
    this.on('GET', '/v1/models', () => json({ object: 'list', data: models() }))
    this.on('GET', '/api/gpu', () => json(gpu()))
    this.on('GET', '/api/batches', () => json(this.jobs))
    this.on('GET', '/api/settings', () => json(settings()))
    this.on('GET', '/api/events', (call) => this.eventStream(call))
  }

  /** Answers `method path` (path without the query) with `handler` from now on. */
  on(method: string, path: string, handler: Handler): this {
    this.routes.set(`${method} ${path}`, handler)
    return this
  }

  callsTo(method: string, path: string): Call[] {
    return this.calls.filter((c) => c.method === method && c.path === path)
  }

  /** Sends an event to every open event stream. */
  push(event: string, data: unknown): void {
    const bytes = new TextEncoder().encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    for (const c of this.streams) c.enqueue(bytes)
  }

  get openStreams(): number {
    return this.streams.length
  }

  /** Ends every open event stream (as a restarting service would). */
  dropStreams(): void {
    for (const c of this.streams) c.close()
    this.streams = []
  }

  readonly fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.pathname + input.search : input.url
    const method = (init.method ?? 'GET').toUpperCase()
    const headers = new Headers(init.headers)
    let body: unknown = undefined
    if (typeof init.body === 'string') body = JSON.parse(init.body)
    const call: Call = { method, url, path: url.split('?')[0], authorization: headers.get('authorization'), body, signal: init.signal ?? null }
    this.calls.push(call)
    if (init.signal?.aborted) throw new DOMException('aborted', 'AbortError')
    if (call.path !== '/health' && this.acceptKey !== null && call.authorization !== `Bearer ${this.acceptKey}`) {
      return envelope(401, 'Incorrect API key provided.', 'invalid_api_key')
    }
    const handler = this.routes.get(`${method} ${call.path}`)
    if (!handler) return envelope(404, `Unknown request URL: ${method} ${call.path}.`, 'unknown_url')
    return handler(call)
  }

  private eventStream(call: Call): Response {
    let ctrl: ReadableStreamDefaultController<Uint8Array> | null = null
    const forget = (): void => {
      this.streams = this.streams.filter((s) => s !== ctrl)
    }
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        ctrl = c
        this.streams.push(c)
        c.enqueue(new TextEncoder().encode(`event: hello\ndata: ${JSON.stringify({ health: health(), engine: engine(), gpu: null })}\n\n`))
      },
      cancel: forget,
    })
    call.signal?.addEventListener('abort', () => {
      forget()
      try {
        ctrl?.error(new DOMException('aborted', 'AbortError'))
      } catch {
        // already closed
      }
    })
    return new Response(stream, { status: 200, headers: { 'content-type': 'text/event-stream' } })
  }

  /** Installs the fake `fetch` (and returns `this`). */
  install(): this {
    vi.stubGlobal('fetch', this.fetch)
    return this
  }
}

/** What the fake XMLHttpRequest was sent. */
export interface XhrRequest {
  method: string
  url: string
  headers: Record<string, string>
  body: FormData | null
  xhr: FakeXhr
}

export const xhrRequests: XhrRequest[] = []

/** An XMLHttpRequest the test drives: progress(), respond(). */
export class FakeXhr {
  status = 0
  responseText = ''
  timeout = 0
  readonly upload: { onprogress: ((e: ProgressEvent) => void) | null } = { onprogress: null }
  onload: (() => void) | null = null
  onerror: (() => void) | null = null
  ontimeout: (() => void) | null = null
  onabort: (() => void) | null = null
  private method = ''
  private url = ''
  private readonly headers: Record<string, string> = {}

  open(method: string, url: string): void {
    this.method = method
    this.url = url
  }

  setRequestHeader(name: string, value: string): void {
    this.headers[name.toLowerCase()] = value
  }

  send(body: FormData | null): void {
    xhrRequests.push({ method: this.method, url: this.url, headers: this.headers, body, xhr: this })
  }

  abort(): void {
    this.onabort?.()
  }

  progress(loaded: number, total: number): void {
    this.upload.onprogress?.(new ProgressEvent('progress', { loaded, total, lengthComputable: true }))
  }

  respond(status: number, body: unknown): void {
    this.status = status
    this.responseText = JSON.stringify(body)
    this.onload?.()
  }
}

export function installFakeXhr(): void {
  xhrRequests.length = 0
  vi.stubGlobal('XMLHttpRequest', FakeXhr)
}
