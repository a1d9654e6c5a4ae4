import type { Logger } from 'pino'
import type { Settings } from '../config/settings'
import type { ModelRegistry } from '../config/models'
import type { ServiceEvents } from '../events'
import { ApiError, badRequest, notFound } from '../api-error'
import { checkExpiresAfter, checkMetadata, echo, requireString } from '../api-params'
import type { Store } from '../store'
import type { BatchRow } from '../store/batches-repo'
import { BATCH_ID, FILE_ID, newBatchId, nowSeconds } from '../store/ids'
import type { IndexWriter } from '../store/index-writer'
import type { RequestIndexRow } from '../store/requests-repo'
import { newBatchRow, toBatchObject } from '../store/batch-row'
import { BatchLifecycle } from './batch-lifecycle'
import { BATCH_ENDPOINTS, type BatchObject } from '../contract/batches'
import { BATCH_PRIORITIES, type BatchPriority } from '../contract/jobs'
import { forEachLineOfFile } from './jsonl-lines'
import { clipMessage, JsonlValidator } from './validate-jsonl'
import { lendReadBuffer } from './wasm/plain-run'
import type { FileService } from '../files/file-service'

export interface CreateBatchParams {
  input_file_id?: unknown
  endpoint?: unknown
  completion_window?: unknown
  metadata?: unknown
  output_expires_after?: unknown
}

const WINDOW_SECONDS: Record<string, number> = { '24h': 86_400 }
/** Index rows written per transaction while validating. */
const INDEX_SLICE = 5000
/**
 * A batch found validating at start whose validation had already started this many times without ending took
 * the service down with it each time: it is failed instead of validated again (and again, at every start).
 */
const VALIDATION_CRASH_LIMIT = 2

export interface BatchServiceDeps {
  store: Store
  settings: Settings
  registry: () => ModelRegistry
  files: FileService
  events: ServiceEvents
  log: Logger
}

export class BatchService {
  readonly lifecycle: BatchLifecycle
  private readonly validations = new Map<string, Promise<void>>()
  private stopping = false

  constructor(private readonly deps: BatchServiceDeps) {
    this.lifecycle = new BatchLifecycle(deps.store.batches, deps.events, deps.log)
  }

  /**
   * POST /v1/batches: checks the parameters and the queue limits, stores the batch and starts validating it.
   * `model` (a registry id) runs the file on that model whatever its lines name (a comparison's arm).
   */
  create(params: CreateBatchParams, options: { model?: string } = {}): BatchObject {
    const { store } = this.deps
    const inputFileId = requireString(params.input_file_id, 'input_file_id')
    const endpoint = requireString(params.endpoint, 'endpoint')
    if (!(BATCH_ENDPOINTS as readonly string[]).includes(endpoint)) {
      throw badRequest(
        `Invalid endpoint ${echo(endpoint)}: this server runs batches for ${BATCH_ENDPOINTS.join(', ')}.`,
        'invalid_value',
        'endpoint',
      )
    }
    const window = requireString(params.completion_window, 'completion_window')
    if (!(window in WINDOW_SECONDS)) {
      throw badRequest(`Invalid completion_window ${echo(window)}: the only supported value is '24h'.`, 'invalid_value', 'completion_window')
    }
    const metadata = checkMetadata(params.metadata)
    const priority = metadata?.priority === undefined ? 'normal' : checkPriority(metadata.priority, 'metadata.priority')
    const outputExpiresAfter = checkExpiresAfter(params.output_expires_after, 'output_expires_after')

    if (!FILE_ID.test(inputFileId)) throw notFound(`No such File object: ${echo(inputFileId)}`, 'input_file_id')
    const file = this.deps.files.getRow(inputFileId, 'input_file_id')
    if (file.purpose !== 'batch') {
      throw badRequest(
        `File ${file.id} has purpose '${file.purpose}'; a batch's input file must be uploaded with purpose 'batch'.`,
        'invalid_value',
        'input_file_id',
      )
    }

    this.checkCapacity(file.id, 1)

    const createdAt = nowSeconds()
    const row = newBatchRow({
      id: newBatchId(),
      endpoint,
      input_file_id: file.id,
      completion_window: window,
      status: 'validating',
      created_at: createdAt,
      expires_at: createdAt + WINDOW_SECONDS[window],
      metadata: metadata ? JSON.stringify(metadata) : null,
      output_expires_after: outputExpiresAfter,
      // Set now only when the file runs on a model of the caller's choice: validation keeps it (see validate).
      model: options.model ?? null,
      priority,
    })
    store.batches.insert(row)
    this.deps.log.info({ batch: row.id, file: file.id, endpoint }, `batch ${row.id} created`)
    this.startValidation(row.id)
    return toBatchObject(row)
  }

  get(id: string): BatchObject {
    return toBatchObject(this.getRow(id))
  }

  /**
   * Throws the 429 that `count` more batches of this file would meet (VBS_MAX_ACTIVE_BATCHES,
   * VBS_MAX_QUEUED_REQUESTS): a comparison makes all its batches or none.
   */
  checkCapacity(inputFileId: unknown, count: number): void {
    const { store, settings } = this.deps
    const fileId = requireString(inputFileId, 'input_file_id')
    if (!FILE_ID.test(fileId)) throw notFound(`No such File object: ${echo(fileId)}`, 'input_file_id')
    const file = this.deps.files.getRow(fileId, 'input_file_id')
    const active = store.batches.countActive()
    if (active + count > settings.maxActiveBatches) {
      throw this.queueFull(
        count === 1
          ? `${active} batches are already validating or running, the limit (VBS_MAX_ACTIVE_BATCHES=${settings.maxActiveBatches}). Try again when one has finished.`
          : `${active} batches are already validating or running and ${count} more are asked for, past the limit (VBS_MAX_ACTIVE_BATCHES=${settings.maxActiveBatches}). ` +
              'Try again when some have finished.',
      )
    }
    const queued = store.batches.queuedRequests()
    if (queued + count * file.line_count > settings.maxQueuedRequests) {
      throw this.queueFull(
        `The queue holds ${queued.toLocaleString('en-US')} requests; adding this file's ${file.line_count.toLocaleString('en-US')} lines` +
          `${count > 1 ? ` ${count} times` : ''} would pass the limit of ${settings.maxQueuedRequests.toLocaleString('en-US')} (VBS_MAX_QUEUED_REQUESTS). Try again later.`,
      )
    }
  }

  list(limit: number, after?: string): { data: BatchObject[]; hasMore: boolean } {
    if (after !== undefined && !BATCH_ID.test(after)) throw notFound(`No such Batch object: ${echo(after)}`, 'after')
    const page = this.deps.store.batches.list(limit, after)
    if (!page) throw notFound(`No such Batch object: ${after}`, 'after')
    return { data: page.rows.map(toBatchObject), hasMore: page.hasMore }
  }

  /** POST /v1/batches/{id}/cancel: the batch answers `cancelling`; it becomes `cancelled` once nothing runs. */
  cancel(id: string): BatchObject {
    const row = this.getRow(id)
    if (row.status === 'cancelling' || row.status === 'cancelled') return toBatchObject(row)
    if (!BatchLifecycle.canMove(row.status, 'cancelling')) {
      throw new ApiError(409, `Cannot cancel a batch with status '${row.status}'.`, {
        code: null,
        headers: { 'x-should-retry': 'false' },
      })
    }
    // The scheduler ends it: at once when nothing runs, after in-flight requests when it is the running job.
    return this.lifecycle.transition(id, 'cancelling')
  }

  /**
   * Picks up what a previous run left unfinished: validations start again (the scheduler does the rest), one
   * after the other, so that a file that takes the service down is the only one its next start counts against.
   * A batch whose validation already started VALIDATION_CRASH_LIMIT times and never ended is failed instead.
   */
  recover(): void {
    const { store, log } = this.deps
    let previous: Promise<void> | undefined
    for (const row of store.batches.byStatus('validating')) {
      if (row.validation_attempts >= VALIDATION_CRASH_LIMIT) {
        log.error({ batch: row.id, file: row.input_file_id, attempts: row.validation_attempts }, `batch ${row.id}: its validation stopped the service ${row.validation_attempts} times; failing it`)
        store.requests.deleteForBatch(row.id)
        this.lifecycle.transition(row.id, 'failed', {
          errors: [
            {
              code: 'validation_crashed',
              message:
                `validating this file stopped the service twice; it is not validated again. ` +
                `Check the file ${row.input_file_id} (very long or deeply nested lines) and the service log, then create a new batch.`,
              param: null,
              line: null,
            },
          ],
        })
        continue
      }
      log.info({ batch: row.id }, `batch ${row.id}: validating again after a restart`)
      previous = this.startValidation(row.id, previous)
    }
  }

  /** Waits for running validations to stop (they stop at their next slice). */
  async stop(): Promise<void> {
    this.stopping = true
    await Promise.allSettled([...this.validations.values()])
  }

  /**
   * `PUT /api/batches/{id}/priority`: where a batch that has not ended goes in the queue. A higher one than the
   * running job's is let in at that job's next chunk boundary (the scheduler asks at each).
   */
  setPriority(id: string, value: unknown): BatchPriority {
    const row = this.getRow(id)
    const priority = checkPriority(value, 'priority')
    if (row.status !== 'validating' && row.status !== 'in_progress') {
      throw new ApiError(409, `Batch ${row.id} has status '${row.status}': only a batch that is validating or queued to run has a priority to change.`, {
        code: 'batch_not_queued',
        param: 'id',
      })
    }
    if (row.priority !== priority) {
      this.deps.store.batches.update(row.id, { priority })
      this.deps.log.info({ batch: row.id, from: row.priority, to: priority }, `batch ${row.id}: priority ${priority}`)
    }
    return priority
  }

  private getRow(id: string): BatchRow {
    const row = BATCH_ID.test(id) ? this.deps.store.batches.get(id) : undefined
    if (!row) throw notFound(`No such Batch object: ${BATCH_ID.test(id) ? id : echo(id)}`, 'id')
    return row
  }

  private queueFull(message: string): ApiError {
    return new ApiError(429, message, {
      code: 'queue_full',
      headers: { 'retry-after': String(this.deps.settings.retryAfterSeconds) },
    })
  }

  /**
   * Validates a batch, at once or once `after` has settled. The start is counted on the batch, committed before
   * a line is read, and given back when a clean stop interrupts it: what stays counted are the runs that died.
   */
  private startValidation(id: string, after?: Promise<void>): Promise<void> {
    const { store, log } = this.deps
    let started = false
    const begin = async (): Promise<void> => {
      if (this.stopping) return // still validating: the next start takes it up
      store.batches.countValidationAttempt(id, 1)
      started = true
      await this.validate(id)
    }
    const run = (after ? after.then(begin, begin) : begin())
      .catch((err: unknown) => {
        log.error({ batch: id, err }, `batch ${id}: validation stopped by an error`)
        const row = store.batches.get(id)
        if (row?.status === 'validating' && !this.stopping) {
          store.requests.deleteForBatch(id)
          this.lifecycle.transition(id, 'failed', {
            errors: [{ code: 'server_error', message: clipMessage(`validation failed: ${(err as Error).message}`), param: null, line: null }],
          })
        }
      })
      .catch((err: unknown) => log.error({ batch: id, err }, `batch ${id}: could not record that validation failed`))
      .finally(() => {
        this.validations.delete(id)
        try {
          // Ended without a verdict (the service is stopping): this run did not crash anything.
          if (started && store.batches.get(id)?.status === 'validating') store.batches.countValidationAttempt(id, -1)
        } catch (err) {
          log.error({ batch: id, err }, `batch ${id}: could not record the end of its validation`)
        }
      })
    this.validations.set(id, run)
    return run
  }

  /**
   * Streams the input file once: every line checked, every valid request indexed (line, custom_id, byte
   * offset and length) so the runner can read any request without loading the file.
   */
  private async validate(id: string): Promise<void> {
    const { store, settings, files } = this.deps
    const row = this.getRow(id)
    store.requests.deleteForBatch(id) // a restart begins the index again
    const registry = this.deps.registry()
    const validator = new JsonlValidator({
      endpoint: row.endpoint,
      // A batch created for a model of the caller's choice runs it whatever its lines name.
      resolveModel: row.model !== null ? () => row.model! : (name) => registry.resolve(name)?.id,
      maxRequests: settings.maxRequestsPerBatch,
      maxLineBytes: settings.maxLineBytes,
      maxReportedErrors: settings.maxReportedErrors,
    })
    let slice: RequestIndexRow[] = []
    // Full slices of a large file go to a writer thread, started with the first (where threads can write at all);
    // a small file is indexed in one go at the end.
    const threaded = (store.files.get(row.input_file_id)?.line_count ?? 0) >= INDEX_SLICE && (await this.indexThreadWorks())
    let writer = null as IndexWriter | null
    // A read buffer where the scanner steps over the prompts 16 bytes at a time (see batch/wasm/plain-run.ts).
    const lent = lendReadBuffer()
    const stillValidating = (): boolean => !this.stopping && store.batches.get(id)?.status === 'validating'
    try {
      // A callback per line, not an async iterator: the lines of a chunk are checked in one go.
      const eachLine = (line: number, bytes: Buffer | null, offset: number, length: number): boolean | void => {
        if (line % INDEX_SLICE === 0 && !stillValidating()) return false
        const { customId } = validator.check(line, bytes, length)
        // Once a line is bad the batch fails: indexing the rest would only be thrown away.
        if (customId !== null && !validator.hasErrors) {
          slice.push({ line, custom_id: customId, offset, length })
          if (slice.length >= INDEX_SLICE) {
            if (threaded) {
              writer ??= store.requests.bulkWriter(id)
              writer.add(slice)
            } else {
              store.requests.insertMany(id, slice)
            }
            slice = []
          }
        }
      }
      await store.bulkWrite(() =>
        forEachLineOfFile(files.pathOf(row.input_file_id), settings.maxLineBytes, eachLine, () => writer?.ready(), lent?.buffer),
      )
      // Every slice sent is committed before the rows are relied on, or deleted.
      await writer?.flush()
    } finally {
      await writer?.close()
      lent?.release()
    }
    if (!stillValidating()) {
      if (this.stopping) return // recover() validates it again on the next start
      store.requests.deleteForBatch(id)
      return // cancelled while validating: settleCancel finishes it
    }
    const errors = validator.finish()
    if (errors.length > 0) {
      store.requests.deleteForBatch(id)
      this.lifecycle.transition(id, 'failed', { errors })
      return
    }
    store.db.transaction(() => {
      store.requests.insertMany(id, slice)
      this.lifecycle.transition(id, 'in_progress', { total: validator.requests, model: validator.model })
    })()
  }

  /**
   * Whether the index of a large file can be written by a thread of its own (store/index-writer.ts), found out
   * once, at the first large file; where it cannot (a runtime whose workers cannot load the SQLite addon), the
   * validation writes every slice itself, only slower.
   */
  private indexThread: Promise<boolean> | null = null

  private indexThreadWorks(): Promise<boolean> {
    this.indexThread ??= this.deps.store.requests.probeBulkWriter().then(
      () => true,
      (err: unknown) => {
        this.deps.log.warn({ err }, `the request index is written without a thread of its own (${(err as Error).message}); large files validate more slowly`)
        return false
      },
    )
    return this.indexThread
  }

  /** Resolves once the validation of a batch, if one is under way, has ended. */
  async validation(id: string): Promise<void> {
    await this.validations.get(id)
  }
}

/** `high`, `normal` or `low`; anything else is the 400 naming `param`. */
function checkPriority(value: unknown, param: string): BatchPriority {
  if (typeof value === 'string' && (BATCH_PRIORITIES as readonly string[]).includes(value)) return value as BatchPriority
  if (value === undefined || value === null) throw badRequest(`Missing required parameter: '${param}' (high, normal or low).`, 'missing_required_parameter', param)
  throw badRequest(`Invalid '${param}' ${echo(value)}: a batch's priority is high, normal or low.`, 'invalid_value', param)
}
