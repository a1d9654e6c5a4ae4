/**
 * A stand-in for the service in the renderer's component tests: a fake `fetch` (and XMLHttpRequest for the
 * upload) answering the dashboard's routes with fixtures, recording every call, and an event stream the test
 * writes to. The real service is exercised by the integration and end-to-end tests.
 */
import { vi } from 'vitest'
import type {
  ArmAnswer,
  Comparison,
  ComparisonArm,
  ComparisonRow,
  ComparisonRowPage,
  EngineView,
  GpuView,
  Health,
  Job,
  JobPage,
  ModelObject,
  ResultDetail,
  ResultPage,
  SettingsView,
  Vote,
} from '../../main/contract'

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
type PatternHandler = (call: Call, params: string[]) => Response | Promise<Response>

/** The query of a call, as the service reads it. */
export const queryOf = (call: Call): URLSearchParams => new URL(call.url, 'http://fake').searchParams

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
  pool: [],
  defaultModel: 'gemma-3-12b',
  warmPoolGb: 16,
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
  batch_hours: '',
  batch_when_idle: false,
  gpu_power_limit_w: 0,
  max_queue_wait_minutes: 120,
  admin: true,
  api_key: 'k',
  api_key_origin: '/data/api-key',
  listening: { host: '0.0.0.0', port: 4080 },
  share_url: 'http://192.168.1.20:4080',
  restart_required: false,
  locked: {},
  ...over,
})

/** One request of a batch in full (`GET /api/batches/{id}/results/{custom_id}`); its summary is the row. */
export const result = (over: Partial<ResultDetail> = {}): ResultDetail => {
  const customId = over.custom_id ?? 'q1'
  const answer = `Answer to ${customId}`
  return {
    line: 1,
    custom_id: customId,
    state: 'succeeded',
    status_code: 200,
    latency_ms: 420,
    usage: { input_tokens: 12, output_tokens: 7 },
    finish_reason: 'stop',
    preview: answer,
    attempts: 1,
    request: {
      custom_id: customId,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gemma-3-12b', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: `Question ${customId}` }] },
    },
    response: {
      status_code: 200,
      request_id: `req-${customId}`,
      body: { id: 'chatcmpl-1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }], usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 } },
    },
    error: null,
    started_at: 1_763_800_010_000,
    finished_at: 1_763_800_010_420,
    ...over,
  }
}

/** The summary of a result, as the results page lists it. */
export const summaryOf = (d: ResultDetail): ResultPage['data'][number] => ({
  line: d.line,
  custom_id: d.custom_id,
  state: d.state,
  status_code: d.status_code,
  latency_ms: d.latency_ms,
  usage: d.usage,
  finish_reason: d.finish_reason,
  preview: d.preview,
})

export const arm = (over: Partial<ComparisonArm> = {}): ComparisonArm => ({
  model: 'gemma-3-12b',
  batch_id: 'batch_a',
  status: 'completed',
  progress: null,
  total: 3,
  completed: 3,
  failed: 0,
  mean_latency_ms: 400,
  p95_latency_ms: 610,
  tokens_per_second: 52.5,
  mean_output_tokens: 9,
  agreement: { exact: 0.5, normalized: 0.75 },
  wins: 0,
  win_rate: null,
  win_rate_interval: null,
  ...over,
})

export const comparison = (over: Partial<Comparison> = {}): Comparison => {
  const arms = over.arms ?? [arm(), arm({ model: 'llama-3.1-8b', batch_id: 'batch_b' })]
  return {
    id: 'cmp_1',
    object: 'comparison',
    name: 'brief answers',
    input_file_id: 'file-in',
    created_at: 1_763_800_000,
    models: arms.map((a) => a.model),
    arms,
    rows: 3,
    votes: { total: 0, tie: 0, both_bad: 0 },
    ...over,
  }
}

export const answer = (text: string | null, over: Partial<ArmAnswer> = {}): ArmAnswer => ({ state: 'succeeded', text, latency_ms: 400, output_tokens: 9, ...over })

export const comparisonRow = (over: Partial<ComparisonRow> = {}): ComparisonRow => ({
  custom_id: 'c-1',
  line: 1,
  prompt: [{ role: 'user', content: 'Question 1' }],
  answers: { 'gemma-3-12b': answer('echo: Question 1'), 'llama-3.1-8b': answer('echo: Question 1') },
  differs: false,
  vote: null,
  ...over,
})

/** A stored comparison of the fake: the figures and every row (paged by the fake as the service does). */
export interface FakeComparison {
  comparison: Comparison
  rows: ComparisonRow[]
}

export class FakeService {
  readonly calls: Call[] = []
  private readonly routes = new Map<string, Handler>()
  private readonly patterns: { method: string; pattern: RegExp; handler: PatternHandler }[] = []
  private streams: ReadableStreamDefaultController<Uint8Array>[] = []
  /** The key the service accepts (null: any). */
  acceptKey: string | null = null
  jobs: JobPage = { object: 'list', data: [], has_more: false, paused: false }
  /** Each batch's results, in input order (`GET /api/batches/{id}/results`). */
  readonly results = new Map<string, ResultDetail[]>()
  /** The comparisons, newest first. */
  readonly comparisons: FakeComparison[] = []

  constructor() {
    this.on('GET', '/health', () => json(health()))
    this.on('GET', '/api/engine', () => json(engine()))
    this.on('GET', '/v1/models', () => json({ object: 'list', data: models() }))
    this.on('GET', '/api/gpu', () => json(gpu()))
    this.on('GET', '/api/batches', (call) => this.jobPage(call))
    this.on('GET', '/api/settings', () => json(settings()))
    this.on('GET', '/api/events', (call) => this.eventStream(call))
    this.on('GET', '/api/webhooks', () => json({ object: 'list', data: [], metadata_secret_origin: '/data/webhook-secret' }))
    this.on('GET', '/api/webhooks/deliveries', () => json({ object: 'list', data: [], has_more: false }))
    this.onMatch('GET', /^\/api\/batches\/([^/]+)$/, (_call, [id]) => {
      const j = this.jobs.data.find((x) => x.id === decodeURIComponent(id))
      return j ? json(j) : envelope(404, `No such batch: ${id}`, 'batch_not_found', 'id')
    })
    this.onMatch('GET', /^\/api\/batches\/([^/]+)\/results$/, (call, [id]) => this.resultPage(call, decodeURIComponent(id)))
    this.onMatch('GET', /^\/api\/batches\/([^/]+)\/finish-reasons$/, (_call, [id]) => {
      const all = this.results.get(decodeURIComponent(id))
      if (!all) return envelope(404, `No such batch: ${id}`, 'batch_not_found', 'id')
      const counts = new Map<string, number>()
      for (const r of all) if (r.finish_reason !== null) counts.set(r.finish_reason, (counts.get(r.finish_reason) ?? 0) + 1)
      const data = [...counts].map(([finish_reason, count]) => ({ finish_reason, count })).sort((a, b) => b.count - a.count || (a.finish_reason < b.finish_reason ? -1 : 1))
      return json({ object: 'list', data })
    })
    this.onMatch('GET', /^\/api\/batches\/([^/]+)\/results\/(.+)$/, (_call, [id, customId]) => {
      const found = this.results.get(decodeURIComponent(id))?.find((r) => r.custom_id === decodeURIComponent(customId))
      return found ? json(found) : envelope(404, `Batch ${id} has no request with custom_id '${decodeURIComponent(customId)}'.`, null, 'custom_id')
    })
    this.on('GET', '/api/comparisons', () => json({ object: 'list', data: this.comparisons.map((c) => c.comparison), has_more: false }))
    this.on('POST', '/api/comparisons', (call) => this.createComparison(call))
    this.onMatch('GET', /^\/api\/comparisons\/([^/]+)$/, (_call, [id]) => {
      const c = this.comparison(id)
      return c ? json(c.comparison) : envelope(404, `No such comparison: ${id}`, null, 'id')
    })
    this.onMatch('GET', /^\/api\/comparisons\/([^/]+)\/rows$/, (call, [id]) => this.rowPage(call, id))
    this.onMatch('PUT', /^\/api\/comparisons\/([^/]+)\/votes\/(.+)$/, (call, [id, customId]) => this.vote(call, id, decodeURIComponent(customId)))
    this.onMatch('GET', /^\/api\/comparisons\/([^/]+)\/export$/, (call, [id]) => {
      const c = this.comparison(id)
      if (!c) return envelope(404, `No such comparison: ${id}`, null, 'id')
      const format = queryOf(call).get('format') ?? 'csv'
      const text = format === 'csv' ? `custom_id,vote\r\n${c.rows.map((r) => `${r.custom_id},${r.vote?.winner ?? ''}`).join('\r\n')}\r\n` : `${c.rows.map((r) => JSON.stringify({ custom_id: r.custom_id })).join('\n')}\n`
      return new Response(text, { status: 200, headers: { 'content-type': format === 'csv' ? 'text/csv' : 'application/jsonl', 'content-disposition': `attachment; filename="${id}.${format}"` } })
    })
  }

  /** Answers `method` on every path `pattern` matches (its groups are the params) from now on; `on` routes come first. */
  onMatch(method: string, pattern: RegExp, handler: PatternHandler): this {
    this.patterns.unshift({ method, pattern, handler })
    return this
  }

  /** Gives the batch these results, in input order. */
  withResults(batchId: string, rows: ResultDetail[]): this {
    this.results.set(batchId, rows)
    return this
  }

  withComparison(c: Comparison, rows: ComparisonRow[]): this {
    this.comparisons.unshift({ comparison: c, rows })
    return this
  }

  comparison(id: string): FakeComparison | undefined {
    return this.comparisons.find((c) => c.comparison.id === decodeURIComponent(id))
  }

  /** `GET /api/batches?limit=&after=`: a page of `jobs` (in the order given: newest first), after the cursor's job. */
  private jobPage(call: Call): Response {
    const q = queryOf(call)
    const limit = Number(q.get('limit') ?? 50)
    const after = q.get('after')
    let rest = this.jobs.data
    if (after) {
      const at = rest.findIndex((j) => j.id === after)
      if (at === -1) return envelope(404, `No such Batch object: ${after}`, null, 'after')
      rest = rest.slice(at + 1)
    }
    return json({ ...this.jobs, data: rest.slice(0, limit), has_more: this.jobs.has_more || rest.length > limit })
  }

  private resultPage(call: Call, batchId: string): Response {
    const all = this.results.get(batchId)
    if (!all) return envelope(404, `No such batch: ${batchId}`, 'batch_not_found', 'id')
    const q = queryOf(call)
    const text = q.get('q')?.toLowerCase()
    const state = q.get('state')
    const finish = q.get('finish_reason')
    const offset = Number(q.get('offset') ?? 0)
    const limit = Number(q.get('limit') ?? 50)
    if (limit > 500) return envelope(400, "Invalid 'limit': at most 500.", 'invalid_value', 'limit')
    const matching = all.filter(
      (r) =>
        (!text || `${JSON.stringify(r.request)} ${r.preview ?? ''}`.toLowerCase().includes(text)) &&
        (!state || r.state === state) &&
        (!finish || r.finish_reason === finish),
    )
    const data = matching.slice(offset, offset + limit).map(summaryOf)
    const page: ResultPage = { object: 'list', data, total: matching.length, has_more: offset + data.length < matching.length }
    return json(page)
  }

  private rowPage(call: Call, id: string): Response {
    const c = this.comparison(id)
    if (!c) return envelope(404, `No such comparison: ${id}`, null, 'id')
    const q = queryOf(call)
    const text = q.get('q')?.toLowerCase()
    const offset = Number(q.get('offset') ?? 0)
    const limit = Number(q.get('limit') ?? 50)
    if (limit > 200) return envelope(400, "Invalid 'limit': at most 200.", 'invalid_value', 'limit')
    const matching = c.rows.filter(
      (r) => (q.get('differences') !== 'true' || r.differs) && (!text || JSON.stringify([r.prompt, r.answers]).toLowerCase().includes(text)),
    )
    const data = matching.slice(offset, offset + limit)
    const page: ComparisonRowPage = { object: 'list', data, total: matching.length, has_more: offset + data.length < matching.length }
    return json(page)
  }

  private vote(call: Call, id: string, customId: string): Response {
    const c = this.comparison(id)
    if (!c) return envelope(404, `No such comparison: ${id}`, null, 'id')
    const body = call.body as { winner?: unknown; note?: unknown }
    const choices = [...c.comparison.models, 'tie', 'both_bad']
    if (typeof body.winner !== 'string' || !choices.includes(body.winner)) {
      return envelope(400, `Invalid 'winner': expected one of ${choices.join(', ')}.`, 'invalid_value', 'winner')
    }
    const row = c.rows.find((r) => r.custom_id === customId)
    if (!row) return envelope(404, `Comparison ${id} has no row with custom_id '${customId}'.`, null, 'custom_id')
    const vote: Vote = { custom_id: customId, winner: body.winner, note: typeof body.note === 'string' && body.note !== '' ? body.note : null, updated_at: 1_763_900_000 }
    row.vote = vote
    const votes = c.rows.map((r) => r.vote).filter((v): v is Vote => v !== null)
    c.comparison = {
      ...c.comparison,
      votes: { total: votes.length, tie: votes.filter((v) => v.winner === 'tie').length, both_bad: votes.filter((v) => v.winner === 'both_bad').length },
      arms: c.comparison.arms.map((a) => {
        const wins = votes.filter((v) => v.winner === a.model).length
        return { ...a, wins, win_rate: votes.length > 0 ? wins / votes.length : null }
      }),
    }
    return json(vote)
  }

  /** `POST /api/comparisons`: a file on each model (one batch each), or jobs of the queue. */
  private createComparison(call: Call): Response {
    const body = call.body as { input_file_id?: string; models?: string[]; batch_ids?: string[]; name?: string }
    const n = this.comparisons.length + 1
    let arms: ComparisonArm[]
    if (body.batch_ids) {
      arms = body.batch_ids.map((id) => {
        const j = this.jobs.data.find((x) => x.id === id)
        return arm({ model: j?.model ?? 'unknown', batch_id: id, status: j?.status ?? 'completed' })
      })
    } else {
      arms = (body.models ?? []).map((m, i) => arm({ model: m, batch_id: `batch_cmp${n}_${i + 1}`, status: 'validating', completed: 0, total: 0 }))
    }
    const c = comparison({ id: `cmp_${n}`, name: body.name ?? null, input_file_id: body.input_file_id ?? null, arms, rows: 0 })
    this.comparisons.unshift({ comparison: c, rows: [] })
    return json(c, 201)
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
    if (handler) return handler(call)
    for (const p of this.patterns) {
      const m = p.method === method ? p.pattern.exec(call.path) : null
      if (m) return p.handler(call, m.slice(1))
    }
    return envelope(404, `Unknown request URL: ${method} ${call.path}.`, 'unknown_url')
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
