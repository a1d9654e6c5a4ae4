import crypto from 'node:crypto'
import { setMaxListeners } from 'node:events'
import fs from 'node:fs'
import type { Logger } from 'pino'
import type { Store } from '../store'
import type { BatchRow } from '../store/batches-repo'
import type { RequestResult, Usage } from '../store/results-repo'
import { errorMessageOf } from '../contract/errors'
import { promptText, readAnswer } from './engine-answer'
import type { EngineTarget } from '../engine/engine-backend'
import { sanitizeEngineBody } from '../engine/request-policy'
import { sendToEngine } from './engine-client'
import type { Hold, PowerWindow } from '../contract/jobs'
import { holdFor, sameHold, type HoldReason } from './hold'
import { holdOfRow } from '../store/batch-row'
import { RateMeter, type BatchProgress } from './progress'

export interface RunOptions {
  /** Requests in flight at once (W). */
  concurrency: number
  chunkSize: number
  maxAttempts: number
  retryBaseMs: number
  requestTimeoutMs: number
  /** A write transaction commits this many results, or what came within commitMs, whichever is first. */
  commitRows: number
  commitMs: number
  /** After a cancel or expiry, how long requests in flight may finish before they are abandoned. */
  drainMs: number
  /** The same when the service stops; what is abandoned stays pending and runs after the restart. */
  shutdownDrainMs: number
  /** vLLM priority of batch requests (lower runs first; interactive requests use a lower number). */
  priority: number
}

export interface RunDeps {
  store: Store
  inputPath: string
  log: Logger
  /**
   * Resolves with where to send once requests may be sent (engine ready, GPU cool, not paused), or null if
   * the run was told to stop while waiting. Reports why it waits through the callback.
   */
  gate: (waiting: (reason: HoldReason | null) => void, stop: AbortSignal) => Promise<EngineTarget | null>
  /** A request could not reach the engine at all (connection refused, reset, timeout). */
  unreachable: (reason: string) => void
  onProgress: (progress: BatchProgress) => void
  /**
   * Asked before each chunk: true when the run should give way there (a job of higher priority waits, the
   * batch hours ended). Nothing is in flight at a chunk boundary, so the run ends cleanly and resumes later.
   */
  shouldYield?: () => boolean
  /** Requests that may be in flight now (the power cap narrows it); at most `concurrency`. Read before each send. */
  window?: () => number
  /** The power cap's view of the window, shown with the progress. */
  power?: () => PowerWindow | undefined
}

/** `yield`: stopped at a chunk boundary to give way (see RunDeps.shouldYield); it resumes from its rows. */
export type RunEnd = 'done' | 'cancel' | 'expire' | 'shutdown' | 'yield'

/** The batch's input file is gone from disk: the job can never run. */
export class InputFileMissingError extends Error {
  constructor(readonly path: string) {
    super(`the input file is missing from the data dir (${path}); it was removed by hand or the disk lost it`)
    this.name = 'InputFileMissingError'
  }
}

interface Item {
  line: number
  customId: string
  raw: Buffer
  attempts: number
  startedAt: number
  /** The request's text, for the results search (read once, when its line is first parsed). */
  promptText?: string
}

const EMPTY_USAGE: Usage = { input: 0, cached: 0, output: 0, reasoning: 0 }
/** Above this span a chunk's requests are read one by one rather than in one read. */
const MAX_RANGE_READ = 64 * 1024 * 1024

/**
 * Runs one batch against the engine: requests read by offset from the input file a chunk at a time, at most W
 * in flight, results committed in small transactions. Resumable at any moment: whatever is not committed stays
 * `pending` and runs again, so a crash resends at most W requests plus one write batch.
 */
export class BatchRun {
  private end: RunEnd | null = null
  private readonly stopSignal = new AbortController()
  private readonly abandon = new AbortController()
  private readonly meter = new RateMeter()
  private completed: number
  private failed: number
  private chunk = 0
  private readonly chunks: number
  /** Why it waits; the scheduler's hold on the job (a model load) until the gate first says otherwise. */
  private hold: Hold | null
  private lastProgress = 0
  private lastPersist = 0
  private readonly seq: number
  private readonly endpoint: string
  /** What stopped the run from inside (a commit that failed, a full disk): run() rejects with it. */
  private fault: Error | null = null
  /** The in-flight window: at most `concurrency`, narrower while the power cap says so. */
  private readonly slots: Slots

  constructor(
    private readonly deps: RunDeps,
    private readonly batch: BatchRow,
    private readonly o: RunOptions,
  ) {
    this.seq = deps.store.batches.seqOf(batch.id)
    this.hold = holdOfRow(batch)
    this.completed = batch.completed
    this.failed = batch.failed
    this.chunks = Math.max(1, Math.ceil(batch.total / o.chunkSize))
    this.endpoint = batch.endpoint
    this.slots = new Slots(() => Math.max(1, Math.min(o.concurrency, deps.window?.() ?? o.concurrency)))
    // Every request in flight (up to the concurrency) listens on both: that many listeners are expected.
    setMaxListeners(0, this.stopSignal.signal, this.abandon.signal)
  }

  /** Stops sending; requests in flight get drainMs to finish, then are abandoned (and run again later). */
  stop(why: Exclude<RunEnd, 'done' | 'yield'>): void {
    if (this.end) return
    this.end = why
    this.stopSignal.abort()
    setTimeout(() => this.abandon.abort(), why === 'shutdown' ? this.o.shutdownDrainMs : this.o.drainMs).unref()
  }

  progress(): BatchProgress {
    const { perSecond, tokensPerSecond } = this.meter.rates()
    const remaining = this.batch.total - this.completed - this.failed
    const power = this.deps.power?.()
    return {
      chunk: this.chunk,
      chunks: this.chunks,
      completed: this.completed,
      failed: this.failed,
      total: this.batch.total,
      requestsPerSecond: Math.round(perSecond * 10) / 10,
      tokensPerSecond: Math.round(tokensPerSecond),
      etaSeconds: perSecond > 0 ? Math.round(remaining / perSecond) : null,
      hold: this.hold,
      updatedAt: Date.now(),
      ...(power ? { power } : {}),
    }
  }

  /**
   * Runs until every request has ended or the run is stopped. Rejects when something inside failed (a commit,
   * the input file, the disk): what was not committed stays pending and runs again, nothing is half-written.
   */
  async run(): Promise<RunEnd> {
    const { store } = this.deps
    const fd = await fs.promises.open(this.deps.inputPath, 'r').catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new InputFileMissingError(this.deps.inputPath) : err
    })
    const committer = new Committer(store, this.seq, this.o, (results) => this.committed(results), (err) => this.halt(err))
    let afterLine = 0
    try {
      while (!this.end) {
        const rows = store.requests.pending(this.seq, afterLine, this.o.chunkSize)
        if (rows.length === 0) break
        // A chunk boundary: nothing is in flight, so giving way here resends nothing and cuts no chunk short.
        if (this.deps.shouldYield?.()) {
          this.end = 'yield'
          break
        }
        afterLine = rows[rows.length - 1].line
        this.chunk = Math.min(this.chunks, 1 + Math.floor((this.completed + this.failed) / this.o.chunkSize))
        this.report(true)
        const items = await readItems(fd, rows)
        await this.runChunk(items, committer)
      }
    } catch (err) {
      this.halt(err as Error)
    } finally {
      committer.close()
      await fd.close()
    }
    if (this.fault) throw this.fault
    this.report(true)
    return this.end ?? 'done'
  }

  /** Something failed inside the run: it stops at once (requests in flight are abandoned and run again later). */
  private halt(err: Error): void {
    this.fault ??= err
    this.stop('shutdown')
    this.abandon.abort()
  }

  private async runChunk(items: Item[], committer: Committer): Promise<void> {
    const queue = new WorkQueue(items, () => this.end !== null)
    const stopWaiting = (): void => {
      queue.wakeAll()
      this.slots.wakeAll()
    }
    this.stopSignal.signal.addEventListener('abort', stopWaiting, { once: true })
    try {
      await Promise.all(Array.from({ length: Math.min(this.o.concurrency, items.length) }, () => this.worker(queue, committer)))
    } finally {
      this.stopSignal.signal.removeEventListener('abort', stopWaiting)
    }
  }

  private async worker(queue: WorkQueue, committer: Committer): Promise<void> {
    try {
      await this.work(queue, committer)
    } catch (err) {
      // A worker never rejects: the chunk's other workers must stop too before the run ends.
      this.halt(err as Error)
    }
  }

  private async work(queue: WorkQueue, committer: Committer): Promise<void> {
    for (;;) {
      if (this.end) return
      const item = await queue.next()
      if (!item || this.end) return
      // Not sent: it stays pending and runs again later.
      if (!(await this.slots.acquire(() => this.end !== null))) return
      let outcome: Awaited<ReturnType<typeof sendToEngine>>
      try {
        const target = await this.deps.gate((reason) => this.setWaiting(reason), this.stopSignal.signal)
        if (target === null || this.end) return
        item.startedAt ||= Date.now()
        const payload = this.payload(item, target)
        if (payload === null) {
          // Validation checked this line; only a changed input file could get here.
          committer.add(this.failure(item, null, null, 'invalid_request', `line ${item.line} is no longer valid JSON`))
          continue
        }
        outcome = await sendToEngine(target, this.endpoint, payload, this.o.requestTimeoutMs, this.abandon.signal)
      } finally {
        this.slots.release()
      }
      item.attempts += 1
      if (outcome.kind === 'transient' && outcome.status === null && !this.abandon.signal.aborted) this.deps.unreachable(outcome.reason)
      if (outcome.kind === 'ok') {
        const answer = readAnswer(outcome.body)
        committer.add({
          line: item.line,
          customId: item.customId,
          state: 'succeeded',
          attempts: item.attempts,
          statusCode: outcome.status,
          requestId: newRequestId(),
          body: outcome.body,
          errorCode: null,
          errorMessage: null,
          usage: answer.usage,
          startedAt: item.startedAt,
          finishedAt: Date.now(),
          promptText: item.promptText ?? '',
          answerText: answer.text,
          finishReason: answer.finishReason,
        })
      } else if (outcome.kind === 'final') {
        committer.add(this.failure(item, outcome.status, outcome.body, null, errorMessageOf(outcome.body)))
      } else if (this.abandon.signal.aborted) {
        return // abandoned after a stop: it stays pending and runs again later
      } else if (item.attempts >= this.o.maxAttempts) {
        const why = `failed after ${item.attempts} attempts; the last: ${outcome.reason}`
        committer.add(
          outcome.status !== null
            ? this.failure(item, outcome.status, outcome.body, null, `${why}: ${errorMessageOf(outcome.body) ?? ''}`.trim())
            : this.failure(item, null, null, 'engine_unavailable', why),
        )
      } else {
        committer.retry(item.line, item.attempts)
        const backoff = this.o.retryBaseMs * 2 ** (item.attempts - 1) * (0.75 + Math.random() * 0.5)
        queue.later(item, backoff)
      }
    }
  }

  private payload(item: Item, target: EngineTarget): Buffer | null {
    let request: { body?: Record<string, unknown> }
    try {
      request = JSON.parse(item.raw.toString('utf8')) as { body?: Record<string, unknown> }
    } catch {
      return null
    }
    const body = request.body ?? {}
    item.promptText ??= promptText(body)
    sanitizeEngineBody(body, target)
    body.model = target.served
    if (target.priority) body.priority = this.o.priority
    return Buffer.from(JSON.stringify(body))
  }

  private failure(item: Item, status: number | null, body: string | null, code: string | null, message: string | null): RequestResult {
    return {
      line: item.line,
      customId: item.customId,
      state: 'failed',
      attempts: item.attempts,
      statusCode: status,
      requestId: newRequestId(),
      body,
      errorCode: code,
      errorMessage: message,
      usage: EMPTY_USAGE,
      startedAt: item.startedAt || Date.now(),
      finishedAt: Date.now(),
      promptText: item.promptText ?? '',
      answerText: null,
      finishReason: null,
    }
  }

  private committed(results: readonly RequestResult[]): void {
    let tokens = 0
    for (const r of results) {
      if (r.state === 'succeeded') this.completed += 1
      else this.failed += 1
      tokens += r.usage.input + r.usage.output
    }
    this.meter.add(results.length, tokens)
    this.report(false)
  }

  private setWaiting(reason: HoldReason | null): void {
    if (sameHold(this.hold, reason)) return
    this.hold = reason ? holdFor(reason, this.hold) : null
    this.report(true)
  }

  /** Announces progress at most 4 times a second, and keeps it on the job at most once a second. */
  private report(force: boolean): void {
    const now = Date.now()
    if (!force && now - this.lastProgress < 250) return
    this.lastProgress = now
    const progress = this.progress()
    this.deps.onProgress(progress)
    if (force || now - this.lastPersist >= 1000) {
      this.lastPersist = now
      this.deps.store.batches.update(this.batch.id, { progress: JSON.stringify(progress), hold: progress.hold })
    }
  }
}

function newRequestId(): string {
  return crypto.randomUUID().replace(/-/g, '')
}

/** Token counts from an OpenAI-style response body. */
/** Reads the chunk's request lines from the input file: one read for the whole span when it is not huge. */
async function readItems(fd: fs.promises.FileHandle, rows: { line: number; custom_id: string; offset: number; length: number; attempts: number }[]): Promise<Item[]> {
  const first = rows[0]
  const last = rows[rows.length - 1]
  const span = last.offset + last.length - first.offset
  const item = (r: (typeof rows)[number], raw: Buffer): Item => ({ line: r.line, customId: r.custom_id, raw, attempts: r.attempts, startedAt: 0 })
  if (span <= MAX_RANGE_READ) {
    const buf = Buffer.alloc(span)
    await fd.read(buf, 0, span, first.offset)
    return rows.map((r) => item(r, buf.subarray(r.offset - first.offset, r.offset - first.offset + r.length)))
  }
  const out: Item[] = []
  for (const r of rows) {
    const buf = Buffer.alloc(r.length)
    await fd.read(buf, 0, r.length, r.offset)
    out.push(item(r, buf))
  }
  return out
}

/** The chunk's requests: ready ones first come first, retries come back after their backoff. */
class WorkQueue {
  private index = 0
  private delayed = 0
  private waiters: (() => void)[] = []

  constructor(
    private readonly ready: Item[],
    private readonly stopped: () => boolean,
  ) {}

  /** The next request to send, or null when the chunk is done or the run stops. */
  async next(): Promise<Item | null> {
    for (;;) {
      if (this.stopped()) return null
      if (this.index < this.ready.length) return this.ready[this.index++]
      if (this.delayed === 0) return null
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
  }

  later(item: Item, ms: number): void {
    this.delayed += 1
    setTimeout(() => {
      this.delayed -= 1
      this.ready.push(item)
      this.wakeAll()
    }, ms)
  }

  wakeAll(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }
}

/** How often a request held back by a narrowed window looks again whether the window has widened. */
const WINDOW_POLL_MS = 100

/** Requests in flight, at most `limit()` at a time; the limit may change between sends (the power cap). */
class Slots {
  private inFlight = 0
  private waiters: (() => void)[] = []

  constructor(private readonly limit: () => number) {}

  /** Resolves true once a request may go out, false when the run stops meanwhile. */
  async acquire(stopped: () => boolean): Promise<boolean> {
    for (;;) {
      if (stopped()) return false
      if (this.inFlight < this.limit()) {
        this.inFlight += 1
        return true
      }
      // Woken by a request that ends; a widened window is seen within WINDOW_POLL_MS.
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer)
          this.waiters = this.waiters.filter((w) => w !== done)
          resolve()
        }
        const timer = setTimeout(done, WINDOW_POLL_MS)
        this.waiters.push(done)
      })
    }
  }

  release(): void {
    this.inFlight -= 1
    this.waiters[0]?.()
  }

  wakeAll(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }
}

/** Collects results and commits them in small transactions: commitRows rows or commitMs, whichever is first. */
class Committer {
  private results: RequestResult[] = []
  private retried: { line: number; attempts: number }[] = []
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly store: Store,
    private readonly seq: number,
    private readonly o: RunOptions,
    private readonly onCommitted: (results: readonly RequestResult[]) => void,
    /** A commit failed (it rolled back: its requests stay pending). Called once; later results are dropped. */
    private readonly onFault: (err: Error) => void,
  ) {}

  private failed = false

  add(result: RequestResult): void {
    this.results.push(result)
    if (this.results.length >= this.o.commitRows) this.flush()
    else this.arm()
  }

  retry(line: number, attempts: number): void {
    this.retried.push({ line, attempts })
    this.arm()
  }

  close(): void {
    this.flush()
  }

  private arm(): void {
    this.timer ??= setTimeout(() => this.flush(), this.o.commitMs)
  }

  /** Commits what is collected. Runs from a timer too, so it never throws: a failure goes to onFault. */
  private flush(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    if (this.failed || (this.results.length === 0 && this.retried.length === 0)) return
    const results = this.results
    const retried = this.retried
    this.results = []
    this.retried = []
    try {
      this.store.results.commit(this.seq, results, retried)
      if (results.length > 0) this.onCommitted(results)
    } catch (err) {
      this.failed = true
      this.onFault(err as Error)
    }
  }
}
