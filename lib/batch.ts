/**
 * "Submit, wait, download" in one call, on the OpenAI SDK's Batch API (as Parasail's openai-batch does):
 *
 *   const batch = new Batch(new OpenAI({ baseURL: 'http://workstation:4080/v1', apiKey }))
 *   batch.add({ model: 'gemma-3-12b', messages: [{ role: 'user', content: 'Hello' }] })
 *   const results = await batch.submitWaitDownload({ onProgress: (b) => console.log(b.status, b.request_counts) })
 *   results[0].response?.choices[0].message.content
 *
 * Only standard calls (files.create, batches.create, batches.retrieve, files.content), so the same code runs
 * against OpenAI itself: moving from the workstation to production is a change of base URL. Self-contained (no
 * import of the SDK or of this service): the client is any object with the SDK's shape, v4 to v7.
 */

/** The fields of OpenAI's Batch object this helper reads. */
export interface BatchInfo {
  id: string
  status: string
  output_file_id?: string | null
  error_file_id?: string | null
  request_counts?: { total: number; completed: number; failed: number } | null
  errors?: { data?: { code?: string | null; message?: string | null; line?: number | null }[] } | null
}

/** The part of the OpenAI SDK client (`new OpenAI(...)`) the helper calls. */
export interface BatchClient {
  files: {
    create(params: { file: File; purpose: 'batch' }): PromiseLike<{ id: string }>
    content(fileId: string): PromiseLike<{ text(): Promise<string> }>
  }
  batches: {
    create(params: { input_file_id: string; endpoint: BatchEndpoint; completion_window: '24h'; metadata?: Record<string, string> | null }): PromiseLike<BatchInfo>
    retrieve(batchId: string): PromiseLike<BatchInfo>
  }
}

export type BatchEndpoint = '/v1/chat/completions' | '/v1/completions' | '/v1/embeddings'

/** A request body: what you would pass to `client.chat.completions.create` (without `stream`). */
export type RequestBody = { model: string } & Record<string, unknown>

/** One request's outcome, in the order the requests were added. */
export interface BatchResult<Body = RequestBody, Response = Record<string, unknown>> {
  customId: string
  /** The body you added. */
  input: Body
  /** The engine's answer (a ChatCompletion for chat), or null when the request failed. */
  response: Response | null
  /** The HTTP status the request got, or null when it never ran (cancelled, expired). */
  statusCode: number | null
  /** Why it failed (an engine's error body, or batch_expired / batch_cancelled), or null. */
  error: { code: string | null; message: string } | null
}

export interface BatchOptions {
  endpoint?: BatchEndpoint
  metadata?: Record<string, string>
  /** How often the batch is polled while waiting (ms, default 5000). */
  pollIntervalMs?: number
}

export interface WaitOptions {
  /** Hears the batch at every poll: its status and request_counts. */
  onProgress?: (batch: BatchInfo) => void
  /** Stops waiting (the batch goes on: `batch.id` resumes it with `Batch.attach`). */
  signal?: AbortSignal
}

const FINAL = ['completed', 'failed', 'cancelled', 'expired']

/** The batch ended `failed` (its input was refused): the errors name the bad lines. */
export class BatchFailedError extends Error {
  constructor(readonly batch: BatchInfo) {
    const errors = batch.errors?.data ?? []
    super(`batch ${batch.id} failed: ${errors.slice(0, 5).map((e) => e.message ?? e.code).join('; ') || 'no reason given'}${errors.length > 5 ? ` (and ${errors.length - 5} more)` : ''}`)
    this.name = 'BatchFailedError'
  }
}

export class Batch<Body extends RequestBody = RequestBody, Response = Record<string, unknown>> {
  private readonly requests: { customId: string; body: Body }[] = []
  private readonly ids = new Set<string>()
  private info: BatchInfo | null = null
  private submitted = false

  constructor(
    private readonly client: BatchClient,
    private readonly options: BatchOptions = {},
  ) {}

  /** Follows a batch that was submitted earlier (by id); add the same requests in the same order to match results. */
  static attach<B extends RequestBody = RequestBody, R = Record<string, unknown>>(client: BatchClient, batchId: string, options: BatchOptions = {}): Batch<B, R> {
    const batch = new Batch<B, R>(client, options)
    batch.info = { id: batchId, status: 'validating' }
    return batch
  }

  /** The batch's id once submitted. */
  get id(): string | null {
    return this.info?.id ?? null
  }

  get size(): number {
    return this.requests.length
  }

  /** Adds a request; its custom_id is `customId`, or `request-<n>`. Returns the custom_id. */
  add(body: Body, customId = `request-${this.requests.length + 1}`): string {
    if (this.submitted) throw new Error(`this batch was submitted already (${this.info?.id}); start a new Batch for more requests`)
    if (this.ids.has(customId)) throw new Error(`custom_id ${JSON.stringify(customId)} is used twice`)
    if ((body as { stream?: unknown }).stream) throw new Error('a batch request cannot stream: remove stream: true')
    this.ids.add(customId)
    this.requests.push({ customId, body })
    return customId
  }

  /** The input file's lines (JSONL), as uploaded. */
  toJsonl(): string {
    const url = this.options.endpoint ?? '/v1/chat/completions'
    return this.requests.map((r) => `${JSON.stringify({ custom_id: r.customId, method: 'POST', url, body: r.body })}\n`).join('')
  }

  /** Uploads the requests and creates the batch. */
  async submit(): Promise<BatchInfo> {
    if (this.info) throw new Error(`this batch was submitted already (${this.info.id})`)
    this.submitted = true
    if (this.requests.length === 0) throw new Error('add at least one request before submitting')
    const file = await this.client.files.create({ file: new File([this.toJsonl()], 'batch.jsonl', { type: 'application/jsonl' }), purpose: 'batch' })
    this.info = await this.client.batches.create({
      input_file_id: file.id,
      endpoint: this.options.endpoint ?? '/v1/chat/completions',
      completion_window: '24h',
      ...(this.options.metadata ? { metadata: this.options.metadata } : {}),
    })
    return this.info
  }

  /** Polls the batch until it ends; resolves with its last state (also when `signal` stopped the wait). */
  async wait(options: WaitOptions = {}): Promise<BatchInfo> {
    if (!this.info) throw new Error('submit the batch first')
    const every = this.options.pollIntervalMs ?? 5000
    for (;;) {
      this.info = await this.client.batches.retrieve(this.info.id)
      options.onProgress?.(this.info)
      if (FINAL.includes(this.info.status) || options.signal?.aborted) return this.info
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, every)
        function done(): void {
          clearTimeout(timer)
          options.signal?.removeEventListener('abort', done)
          resolve()
        }
        options.signal?.addEventListener('abort', done, { once: true })
      })
    }
  }

  /**
   * Reads the output and error files of the ended batch and matches every line to its request by custom_id:
   * one result per request, in the order added (a request with no line in either file gets an error saying so).
   */
  async download(): Promise<BatchResult<Body, Response>[]> {
    if (!this.info) throw new Error('submit the batch first')
    if (!FINAL.includes(this.info.status)) throw new Error(`batch ${this.info.id} is ${this.info.status}; wait for it to end first`)
    if (this.info.status === 'failed') throw new BatchFailedError(this.info)
    const lines = new Map<string, OutputLine>()
    for (const fileId of [this.info.output_file_id, this.info.error_file_id]) {
      if (!fileId) continue
      const text = await (await this.client.files.content(fileId)).text()
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue
        const parsed = JSON.parse(line) as OutputLine
        lines.set(parsed.custom_id, parsed)
      }
    }
    return this.requests.map(({ customId, body }) => {
      const line = lines.get(customId)
      if (!line) return { customId, input: body, response: null, statusCode: null, error: { code: 'missing', message: `batch ${this.info!.id} has no result for ${customId}` } }
      const status = line.response?.status_code ?? null
      const ok = status !== null && status >= 200 && status < 300 && !line.error
      const bodyError = (line.response?.body as { error?: { code?: string | null; message?: string } } | undefined)?.error
      return {
        customId,
        input: body,
        response: ok ? (line.response!.body as Response) : null,
        statusCode: status,
        error: ok ? null : line.error ? { code: line.error.code ?? null, message: line.error.message ?? '' } : { code: bodyError?.code ?? null, message: bodyError?.message ?? `status ${status}` },
      }
    })
  }

  /** submit, wait and download in one call. Throws BatchFailedError when the batch's input was refused. */
  async submitWaitDownload(options: WaitOptions = {}): Promise<BatchResult<Body, Response>[]> {
    if (!this.info) await this.submit()
    const end = await this.wait(options)
    if (!FINAL.includes(end.status)) throw new Error(`stopped waiting for batch ${end.id} (${end.status}); it goes on: Batch.attach(client, '${end.id}') follows it again`)
    return this.download()
  }
}

interface OutputLine {
  custom_id: string
  response: { status_code: number; body: unknown } | null
  error: { code?: string | null; message?: string | null } | null
}
