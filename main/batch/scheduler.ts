import type { Logger } from 'pino'
import type { ModelRegistry } from '../config/models'
import type { Settings } from '../config/settings'
import type { Engine, EngineLease } from '../engine/engine'
import type { EngineTarget } from '../engine/engine-backend'
import type { DownloadProgress } from '../engine/engine-types'
import type { ServiceEvents } from '../events'
import type { Store } from '../store'
import type { FileService } from '../files/file-service'
import type { BatchRow } from '../store/batches-repo'
import type { BatchLifecycle } from './batch-lifecycle'
import { finalizeBatch, type FinalOutcome } from './finalize'
import type { BatchProgress, Hold, PowerWindow, QueuePlace, ScheduleState, SchedulerState } from '../contract/jobs'
import { outranks, queueOrder, type QueueCandidate, type QueueEntry } from './queue-order'
import type { BatchSchedule } from './batch-schedule'
import type { PowerGovernor } from '../gpu/power-governor'
import { holdFor, sameHold, type HoldReason } from './hold'
import { BatchRun, InputFileMissingError, type RunEnd } from './runner'
import { isNoSpace } from '../store/disk-space'
import { holdOfRow } from '../store/batch-row'

/** What the scheduler needs to know of the data dir's disk. */
export interface DiskState {
  readonly full: { reason: string; since: number } | null
  markFull(reason: string): void
  /** Re-reads free space; true when there is room again. */
  refresh(): boolean
  freeBytes(): number
}

export interface SchedulerDeps {
  store: Store
  files: FileService
  lifecycle: BatchLifecycle
  engine: Engine
  registry: () => ModelRegistry
  settings: Settings
  log: Logger
  events: ServiceEvents
  /** The thermal guard's verdict: while paused, nothing new is sent. */
  thermal: () => { paused: boolean; reason: string | null }
  /** Resolves once a validation under way for the batch (if any) has ended. */
  validation: (batchId: string) => Promise<void>
  /** The data dir's disk: a job whose commits fail for lack of space is held until there is room. */
  disk: DiskState
  /** Batch hours, idle-only and "run now anyway": asked before each job and at each chunk boundary. */
  schedule: BatchSchedule
  /** The power cap's in-flight window for the running job. */
  power: PowerGovernor
  /**
   * Models that start without a load besides the one the engine runs (asleep in the warm pool, Engine.warmModels):
   * their jobs go before jobs that need a swap; none by default.
   */
  warmModels?: () => ReadonlySet<string>
}

/** How long the loop sleeps when there is nothing to do (it is woken at once by new work). */
const IDLE_MS = 5000
/** While the schedule holds batches (batch hours, idle-only), how often it is asked again. */
const SCHEDULE_POLL_MS = 1000
const GATE_POLL_MS = 100
/** How often queued jobs are looked at for their expiry (the running one has its own timer). */
const EXPIRY_SWEEP_MS = 30_000
/** While the disk is full, how often free space is looked at again. */
const DISK_POLL_MS = 2000
/** A job stopped by unexpected errors this many times in a row is failed rather than tried again. */
const MAX_FAULTS = 3
/** The wait before a job stopped by an error is tried again (doubling each time). */
const FAULT_BACKOFF_MS = 5000
const MAX_BACKOFF_MS = 10 * 60_000
/** While the loop waits on something long (a model load, a job), it still shows it is alive this often. */
const BEAT_MS = 5000
/** A heartbeat older than this means the loop is stuck. */
export const STALE_HEARTBEAT_MS = 60_000

/** What may follow each state of the scheduler (SchedulerState). */
const SCHEDULER_TRANSITIONS: Readonly<Record<SchedulerState, readonly SchedulerState[]>> = {
  stopped: ['idle', 'paused'],
  idle: ['running', 'paused', 'stopping'],
  running: ['idle', 'paused', 'stopping'],
  paused: ['idle', 'running', 'stopping'],
  stopping: ['stopped'],
}

export class SchedulerTransitionError extends Error {}

/**
 * How a batch must end now, or null: the one decision for cancel and expiry (the event of a cancel, the sweep
 * of queued jobs, the running job's expiry timer and the loop all ask here). A cancel wins over an expiry.
 */
export function dueEnd(row: Pick<BatchRow, 'status' | 'expires_at'>, nowSeconds: number): 'cancel' | 'expire' | null {
  if (row.status === 'cancelling') return 'cancel'
  if (row.status === 'in_progress' && row.expires_at <= nowSeconds) return 'expire'
  return null
}

/**
 * Runs batch jobs one at a time on the GPU, oldest first: makes the engine run the job's model (models change
 * only between jobs), runs it, and ends it (completed, cancelled or expired) with its files. After a restart it
 * picks up where the store says things stood: running jobs resume, cancellations and finalizations complete.
 */
export class Scheduler {
  private state: SchedulerState = 'stopped'
  private current: { id: string; run: BatchRun | null } | null = null
  private loop: Promise<void> | null = null
  private wake: (() => void) | null = null
  /** A kick that came while the loop was not idle: the next idle() returns at once. */
  private kicked = false
  private manualPause: string | null = null
  private readonly unsubscribe: () => void
  private readonly progress = new Map<string, BatchProgress>()
  private beat = Date.now()
  /** Batches being ended right now, so two paths never finalize one batch twice. */
  private readonly ending = new Set<string>()
  private sweepTimer: NodeJS.Timeout | null = null
  /** Jobs stopped by errors: how often in a row, and not before when they are tried again. */
  private readonly faults = new Map<string, { count: number; until: number }>()
  private loopRunning = false
  private lastLoopError: string | null = null
  /** Requests per second each model's jobs ran at lately (for the ETAs of queued jobs). */
  private readonly rates = new Map<string, number>()
  /** The job that ran last: the next arm of its comparison follows it (queue-order.ts). */
  private previous: { comparisonId: string | null } | null = null

  constructor(private readonly d: SchedulerDeps) {
    this.unsubscribe = d.events.on('batch.status', ({ to }) => {
      // A cancelled job ends at once, the running one or a queued one (not after the job that runs now).
      if (to === 'cancelling') this.reviewEnds()
      if (to === 'cancelling' || to === 'in_progress') this.kick()
    })
  }

  /** What the scheduler is doing now. */
  get currentState(): SchedulerState {
    return this.state
  }

  start(): void {
    if (this.state !== 'stopped' || this.loop) return
    this.transition('stopped', this.manualPause ? 'paused' : 'idle')
    // Queued jobs expire on time even while another job runs for hours.
    this.sweepTimer ??= setInterval(() => this.reviewEnds(), EXPIRY_SWEEP_MS)
    this.sweepTimer.unref()
    this.loop = this.main()
  }

  /** Stops the running job at a safe point (it resumes on the next start) and ends the loop. */
  async stop(): Promise<void> {
    if (this.state !== 'stopped' && this.state !== 'stopping') this.transition(this.state, 'stopping')
    if (this.sweepTimer) clearInterval(this.sweepTimer)
    this.unsubscribe()
    this.current?.run?.stop('shutdown')
    this.kick()
    await this.loop
    if (this.state === 'stopping') this.transition('stopping', 'stopped')
  }

  /** Holds every batch (the tray's "Pause batches"): nothing new is sent or started; requests in flight finish. */
  pause(reason = 'paused by the user'): void {
    this.manualPause = reason
    if (this.state === 'idle' || this.state === 'running') this.transition(this.state, 'paused')
    this.kick()
  }

  resume(): void {
    this.manualPause = null
    if (this.state === 'paused') this.transition('paused', this.current ? 'running' : 'idle')
    this.kick()
  }

  get paused(): boolean {
    return this.manualPause !== null
  }

  /**
   * Moves from `expected` to `to` (llama-swap's swapState): false, and nothing changes, when the state is no
   * longer `expected` (something else moved it first); a move the table does not allow is a bug and throws.
   */
  private transition(expected: SchedulerState, to: SchedulerState): boolean {
    if (this.state !== expected) return false
    if (!SCHEDULER_TRANSITIONS[expected].includes(to)) throw new SchedulerTransitionError(`the scheduler cannot go from ${expected} to ${to}`)
    this.state = to
    this.d.log.debug({ from: expected, to }, `scheduler: ${expected} -> ${to}`)
    return true
  }

  private get stopped(): boolean {
    return this.state === 'stopping' || this.state === 'stopped'
  }

  progressOf(batchId: string): BatchProgress | null {
    return this.progress.get(batchId) ?? null
  }

  /** Time since the scheduler last showed it is alive (its loop turned, a request went out or was let wait). */
  get heartbeatAgeMs(): number {
    return Date.now() - this.beat
  }

  /** Whether the loop runs and has shown it is alive lately: /health is degraded otherwise. */
  get beating(): boolean {
    return this.loopRunning && this.heartbeatAgeMs <= STALE_HEARTBEAT_MS
  }

  /** The last error the loop met outside any one job (it went on after it), or null. */
  get loopError(): string | null {
    return this.lastLoopError
  }

  get runningBatch(): string | null {
    return this.current?.id ?? null
  }

  kick(): void {
    const w = this.wake
    this.wake = null
    if (w) w()
    else this.kicked = true
  }

  /**
   * The loop. Nothing ends it but stop(): an error in one job lands on that job (held or failed), an error
   * outside any job (the store itself failing) is logged and the loop waits and goes on.
   */
  private async main(): Promise<void> {
    this.loopRunning = true
    try {
      while (!this.stopped) {
        try {
          await this.turn()
        } catch (err) {
          this.lastLoopError = (err as Error).message
          this.d.log.error({ err }, 'the batch scheduler met an error; it goes on')
          if (isNoSpace(err)) this.d.disk.markFull(`the database could not be written: ${(err as Error).message}`)
          await this.idle(IDLE_MS).catch(() => undefined)
        }
      }
    } finally {
      this.loopRunning = false
    }
  }

  private async turn(): Promise<void> {
    this.beat = Date.now()
    await this.settleEnds()
    if (this.stopped) return
    const jobs = this.d.store.batches.byStatus('in_progress')
    if (jobs.length === 0) return this.idle(IDLE_MS)
    if (this.state === 'paused') {
      this.hold(jobs[0].id, { kind: 'paused', detail: `paused: ${this.manualPause}` })
      return this.idle(IDLE_MS)
    }
    // A full disk holds every job: nothing could be committed. Work goes on by itself once there is room.
    if (this.d.disk.full && !this.d.disk.refresh()) {
      this.hold(jobs[0].id, this.diskHold())
      return this.idle(DISK_POLL_MS)
    }
    // Outside the batch hours (or while the desktop is in use) every queued job says until when it waits.
    const verdict = this.d.schedule.verdict()
    if (!verdict.open) {
      for (const j of jobs) this.hold(j.id, { kind: verdict.kind, detail: verdict.detail })
      return this.idle(SCHEDULE_POLL_MS)
    }
    for (const j of jobs) this.clearScheduleHold(j)
    const now = Date.now()
    const first = this.nextToRun(now)
    const next = first ? jobs.find((j) => j.id === first.id) : undefined
    if (!next) {
      const soonest = Math.min(...jobs.map((j) => this.faults.get(j.id)?.until ?? now))
      // Waits in short steps even for a long backoff, so that the heartbeat stays fresh.
      return this.idle(Math.min(IDLE_MS, Math.max(50, soonest - now)))
    }
    await this.runJob(next)
  }

  /** The queue as it stands (queue-order.ts): every job that waits to run, in the order it will run. */
  private order(): QueueEntry[] {
    const { store, engine } = this.d
    const candidates = store.batches.waiting().map(candidate)
    const running = this.current ? store.batches.get(this.current.id) : undefined
    const verdict = this.d.schedule.verdict()
    const now = this.d.schedule.now
    const warm = this.d.warmModels?.() ?? new Set<string>()
    return queueOrder({
      jobs: candidates,
      running: running
        ? { id: running.id, model: running.model, comparisonId: comparisonOf(running), etaSeconds: this.progress.get(running.id)?.etaSeconds ?? null }
        : null,
      previous: this.previous,
      warm: (model) => engine.runs(model) || warm.has(model),
      now,
      maxWaitMs: this.d.settings.maxQueueWaitMinutes * 60_000,
      rate: (model) => this.rates.get(model) ?? store.batches.recentRate(model),
      delaySeconds: !verdict.open && verdict.nextStart !== null ? Math.max(0, (verdict.nextStart - now) / 1000) : 0,
    })
  }

  /** The first job of the queue that can start now: in progress, and not in an error backoff. */
  private nextToRun(now: number): QueueEntry | undefined {
    return this.order().find((e) => e.runnable && (this.faults.get(e.id)?.until ?? 0) <= now)
  }

  /** Where each queued job stands: `GET /api/batches[/{id}]` `queue`. */
  queuePlaces(): Map<string, QueuePlace> {
    return new Map(this.order().map((e) => [e.id, { position: e.position, reason: e.reason, detail: e.detail, eta_seconds: e.etaSeconds }]))
  }

  /** Batch hours, idle-only, "run now anyway" and the power window, as the API shows them. */
  scheduleState(): ScheduleState {
    // With a cap, its window is shown even between jobs; without one, only the running job's.
    return { ...this.d.schedule.state(), power: this.d.power.cap !== null || this.current?.run ? this.powerWindow() : null }
  }

  /** "Run now anyway" (the tray, the dashboard) until the batch hours next open; false turns it off again. */
  runNow(on: boolean): ScheduleState {
    if (on) this.d.schedule.runNow()
    else this.d.schedule.cancelRunNow()
    this.d.log.info({ runNow: on }, on ? 'batches run now, whatever the batch hours say' : 'batches follow the batch hours again')
    this.kick()
    return this.scheduleState()
  }

  private powerWindow(): PowerWindow {
    const p = this.d.power
    return { cap_w: p.cap, draw_w: p.drawW, window: p.window, max_window: p.maxWindow }
  }

  /**
   * Asked by the running job at each chunk boundary: it gives way when the schedule closed, or when a queued job
   * of a higher priority waits (it runs next; the yielding job goes back in the queue).
   */
  private shouldYield(batchId: string): boolean {
    if (!this.d.schedule.verdict().open) return true
    const row = this.d.store.batches.get(batchId)
    if (!row) return false
    // Only a job that could start now: one in an error backoff would let this one start again at once, and so on.
    const first = this.nextToRun(Date.now())
    const next = first ? this.d.store.batches.get(first.id) : undefined
    return next !== undefined && next.status === 'in_progress' && outranks(next.priority, row.priority)
  }

  /** The schedule opened: a job no longer says it waits for the batch hours or an idle desktop. */
  private clearScheduleHold(row: BatchRow): void {
    const hold = this.progress.get(row.id)?.hold ?? holdOfRow(row)
    if (hold?.kind !== 'quiet_hours' && hold?.kind !== 'not_idle') return
    const before = this.progress.get(row.id) ?? emptyProgress(row)
    const progress: BatchProgress = { ...before, hold: null, updatedAt: Date.now() }
    this.progress.set(row.id, progress)
    this.d.events.emit('batch.progress', { id: row.id, progress })
    try {
      this.d.store.batches.update(row.id, { hold: null })
    } catch (err) {
      if (!isNoSpace(err)) throw err
    }
  }

  private diskHold(): HoldReason {
    const mb = Math.floor(this.d.disk.freeBytes() / 1024 / 1024)
    return { kind: 'disk_full', detail: `held: the disk of the data dir is full (${mb} MB free); the job goes on by itself once space is freed` }
  }

  /**
   * An error stopped a job. No space: the job is held until there is room (that is no fault of the job). Its
   * input gone: it fails. Anything else: held and tried again after a backoff, failed after MAX_FAULTS in a row.
   */
  private jobFault(batchId: string, err: unknown, stage: string): void {
    const message = (err as Error)?.message ?? String(err)
    const { log, store, lifecycle } = this.d
    try {
      if (isNoSpace(err)) {
        log.warn({ batch: batchId, err: message }, `batch ${batchId} held: no space left to save results`)
        // Tried again once the disk has room and the failure is old enough (DiskSpace.refresh, which waits even
        // when statfs shows room: the database may be what is full).
        this.d.disk.markFull(message)
        this.hold(batchId, this.diskHold())
        return
      }
      const status = store.batches.get(batchId)?.status
      const fault = { count: (this.faults.get(batchId)?.count ?? 0) + 1, until: 0 }
      const canFail = status === 'in_progress' || status === 'finalizing'
      if (canFail && (err instanceof InputFileMissingError || fault.count >= MAX_FAULTS)) {
        this.faults.delete(batchId)
        this.progress.delete(batchId)
        const why = err instanceof InputFileMissingError ? message : `${stage} stopped on an error ${fault.count} times in a row; the last: ${message}`
        log.error({ batch: batchId, err: message }, `batch ${batchId} failed: ${why}`)
        lifecycle.transition(batchId, 'failed', {
          errors: [{ code: err instanceof InputFileMissingError ? 'input_file_missing' : 'server_error', message: why, param: null, line: null }],
          progress: null,
        })
        return
      }
      fault.until = Date.now() + Math.min(FAULT_BACKOFF_MS * 2 ** (fault.count - 1), MAX_BACKOFF_MS)
      this.faults.set(batchId, fault)
      log.error({ batch: batchId, err }, `batch ${batchId}: ${stage} stopped on an error (${fault.count} of ${MAX_FAULTS}); tried again later`)
      this.hold(batchId, {
        kind: 'error_backoff',
        detail: `held after an error (${fault.count} of ${MAX_FAULTS}; tried again in ${Math.round((fault.until - Date.now()) / 1000)} s): ${message}`,
      })
    } catch (inner) {
      // The store itself fails (a full disk): the loop's own handler waits and goes on.
      log.error({ batch: batchId, err: inner }, `batch ${batchId}: the error could not be recorded`)
      throw inner
    }
  }

  /**
   * Ends what is due to end (dueEnd): the running job is told to stop (it drains, then runJob finishes it),
   * queued ones are ended by settleEnds.
   */
  private reviewEnds(): void {
    const current = this.current
    if (current?.run) {
      const row = this.d.store.batches.get(current.id)
      const end = row ? dueEnd(row, Date.now() / 1000) : null
      if (end) current.run.stop(end)
    }
    void this.settleEnds().catch((err: unknown) => this.d.log.error({ err }, 'ending due batches failed; tried again on the next turn'))
  }

  /** Batches that only need ending: cancelled or expired while queued, or cut off while finalizing. */
  private async settleEnds(): Promise<void> {
    const { store } = this.d
    for (const row of [...store.batches.byStatus('cancelling'), ...store.batches.byStatus('in_progress')]) {
      if (this.current?.id === row.id || dueEnd(row, Date.now() / 1000) === null) continue
      // A batch cancelled while it validates ends once its validation has.
      if (row.status === 'cancelling') await this.d.validation(row.id)
      const fresh = store.batches.get(row.id)
      const end = fresh && this.current?.id !== row.id ? dueEnd(fresh, Date.now() / 1000) : null
      if (end) await this.finish(row.id, end === 'cancel' ? 'cancelled' : 'expired')
    }
    for (const row of store.batches.byStatus('finalizing')) await this.finish(row.id, 'completed')
  }

  private async runJob(row: BatchRow): Promise<void> {
    const { engine, log } = this.d
    const entry = row.model ? this.d.registry().resolve(row.model) : undefined
    if (!entry) {
      this.hold(row.id, { kind: 'model_missing', detail: `waiting: the model '${row.model}' is no longer in models.yaml; add it back to run this batch` })
      await this.idle(IDLE_MS)
      return
    }
    if (!this.transition('idle', 'running')) return // paused or stopping meanwhile: the next turn sees it
    this.current = { id: row.id, run: null }
    this.previous = { comparisonId: comparisonOf(row) }
    let lease: EngineLease | null = null
    // A model load or a job takes minutes to hours: the loop is alive while it waits on them.
    const ticker = setInterval(() => {
      this.beat = Date.now()
    }, BEAT_MS)
    let faulted = false
    let yielded = false
    try {
      if (!engine.runs(entry.id)) {
        this.hold(row.id, { kind: 'engine_loading', detail: `waiting for engine: loading ${entry.id}` })
      }
      // A model file fetched first (an hf: GGUF) can take minutes: the job says how far it is.
      const stopWatching = this.d.events.on('model.download', (d) => {
        if (d.model === entry.id && d.state === 'downloading') {
          this.hold(row.id, { kind: 'engine_loading', detail: `waiting for engine: downloading ${entry.id} (${downloadText(d)})` })
        }
      })
      try {
        lease = await engine.lease({ model: entry.id, describe: () => this.describe(row.id) })
      } catch (err) {
        this.hold(row.id, { kind: 'engine_unavailable', detail: `waiting for engine: ${(err as Error).message}` })
        log.warn({ batch: row.id, err: (err as Error).message }, 'batch waits for the engine')
        await this.idle(IDLE_MS)
        return
      } finally {
        stopWatching()
      }
      const fresh = this.d.store.batches.get(row.id)!
      if (fresh.status !== 'in_progress') return // cancelled while the model loaded: settleEnds ends it
      const run = this.makeRun(fresh, entry.id, engine.capabilities(entry.id).batchConcurrency)
      this.d.power.setMax(this.concurrency(entry.id))
      this.current.run = run
      const untilExpiry = Math.max(0, fresh.expires_at * 1000 - Date.now())
      // A few ms late, never early: dueEnd must see the window as passed when the timer fires.
      const expiry = setTimeout(() => this.reviewEnds(), Math.min(untilExpiry + 5, 2 ** 31 - 1))
      let end: RunEnd
      try {
        end = await run.run()
      } finally {
        clearTimeout(expiry)
      }
      if (end === 'shutdown') return
      if (end === 'yield') {
        // Back in the queue at a chunk boundary; it says why at once when the schedule closed.
        const verdict = this.d.schedule.verdict()
        if (!verdict.open) this.hold(row.id, { kind: verdict.kind, detail: verdict.detail })
        this.d.log.info({ batch: row.id }, verdict.open ? `batch ${row.id} gives way to a batch of higher priority` : `batch ${row.id} stops at a chunk boundary: ${verdict.detail}`)
        yielded = true
        return
      }
      this.faults.delete(row.id)
      // A cancel that came once every request had ended still wins over completing.
      const cancelled = end === 'cancel' || (end === 'done' && this.d.store.batches.get(row.id)?.status === 'cancelling')
      const outcome: FinalOutcome = cancelled ? 'cancelled' : end === 'done' ? 'completed' : 'expired'
      await this.finish(row.id, outcome)
    } catch (err) {
      faulted = true
      this.jobFault(row.id, err, 'running it')
    } finally {
      clearInterval(ticker)
      lease?.release()
      this.current = null
      this.transition('running', 'idle')
      if (!faulted && !yielded) this.progress.delete(row.id) // a held job keeps saying why; a yielded one how far it is
    }
  }

  private concurrency(model: string): number {
    return this.d.settings.batchConcurrency || this.d.engine.capabilities(model).batchConcurrency
  }

  private makeRun(row: BatchRow, model: string, defaultConcurrency: number): BatchRun {
    const s = this.d.settings
    return new BatchRun(
      {
        store: this.d.store,
        inputPath: this.d.files.pathOf(row.input_file_id),
        log: this.d.log,
        gate: (waiting, stop) => this.gate(model, waiting, stop),
        unreachable: (reason) => this.d.engine.suspect(model, reason),
        onProgress: (progress) => {
          this.progress.set(row.id, progress)
          if (progress.requestsPerSecond > 0) this.rates.set(model, progress.requestsPerSecond)
          this.d.events.emit('batch.progress', { id: row.id, progress })
        },
        shouldYield: () => this.shouldYield(row.id),
        window: () => this.d.power.window,
        power: () => (this.d.power.cap === null ? undefined : this.powerWindow()),
      },
      row,
      {
        concurrency: s.batchConcurrency || defaultConcurrency,
        chunkSize: s.chunkSize,
        maxAttempts: s.maxAttempts,
        retryBaseMs: s.retryBaseMs,
        requestTimeoutMs: s.batchRequestTimeoutMs,
        commitRows: s.commitRows,
        commitMs: s.commitMs,
        drainMs: s.cancelDrainMs,
        shutdownDrainMs: s.shutdownDrainMs,
        priority: s.batchPriority,
      },
    )
  }

  /** Resolves with where to send once a request may go out; until then says why it waits. */
  private async gate(model: string, waiting: (reason: HoldReason | null) => void, stop: AbortSignal): Promise<EngineTarget | null> {
    for (;;) {
      this.beat = Date.now()
      const blocked = this.blockedReason(model)
      const target = blocked === null ? this.d.engine.target() : null
      if (target) {
        waiting(null)
        return target
      }
      waiting(blocked ?? { kind: 'engine_loading', detail: 'waiting for engine' })
      if (stop.aborted) return null
      await new Promise<void>((resolve) => {
        const onStop = (): void => {
          clearTimeout(timer)
          resolve()
        }
        const timer = setTimeout(() => {
          stop.removeEventListener('abort', onStop)
          resolve()
        }, GATE_POLL_MS)
        stop.addEventListener('abort', onStop, { once: true })
      })
      if (stop.aborted) return null
    }
  }

  /** Why nothing may be sent now, or null. Called for every request: only cheap reads here. */
  private blockedReason(model: string): HoldReason | null {
    if (this.manualPause) return { kind: 'paused', detail: `paused: ${this.manualPause}` }
    const thermal = this.d.thermal()
    if (thermal.paused) return { kind: 'thermal', detail: thermal.reason ?? 'paused: GPU too hot' }
    return this.d.engine.blockedReason(model)
  }

  private describe(batchId: string): string {
    const p = this.progress.get(batchId)
    const row = this.d.store.batches.get(batchId)
    const done = p ? p.completed + p.failed : (row?.completed ?? 0) + (row?.failed ?? 0)
    const total = p?.total ?? row?.total ?? 0
    return `batch ${batchId} is running on ${row?.model ?? '?'} (${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} done)`
  }

  /**
   * Says why a job waits: on the job's live progress at once, and on its row when the database can be written
   * (with a full disk it may not be: the live progress still says so).
   */
  private hold(batchId: string, reason: HoldReason): void {
    const before = this.progress.get(batchId) ?? emptyProgress(this.d.store.batches.get(batchId))
    if (sameHold(before.hold, reason)) return
    const hold: Hold = holdFor(reason, before.hold)
    const progress: BatchProgress = { ...before, hold, updatedAt: Date.now() }
    this.progress.set(batchId, progress)
    this.d.events.emit('batch.progress', { id: batchId, progress })
    try {
      this.d.store.batches.update(batchId, { hold })
    } catch (err) {
      if (!isNoSpace(err)) throw err
    }
  }

  private async finish(batchId: string, outcome: FinalOutcome): Promise<void> {
    if (this.ending.has(batchId) || this.stopped) return
    this.ending.add(batchId)
    try {
      if ((this.faults.get(batchId)?.until ?? 0) > Date.now()) return // tried again after its backoff
      await finalizeBatch({ store: this.d.store, files: this.d.files, lifecycle: this.d.lifecycle, log: this.d.log }, batchId, outcome)
      this.faults.delete(batchId)
    } catch (err) {
      this.jobFault(batchId, err, 'writing its output files')
    } finally {
      this.ending.delete(batchId)
    }
  }

  private idle(ms: number): Promise<void> {
    this.beat = Date.now()
    if (this.kicked) {
      this.kicked = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null
        resolve()
      }, ms)
      this.wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }
}

/** "12.0 of 491.4 MB, 42%": a download's progress in a job's hold. */
function downloadText(d: DownloadProgress): string {
  const mb = (n: number): string => (n / 1024 / 1024).toFixed(1)
  return d.totalBytes ? `${mb(d.receivedBytes)} of ${mb(d.totalBytes)} MB, ${Math.floor((100 * d.receivedBytes) / d.totalBytes)}%` : `${mb(d.receivedBytes)} MB`
}

function emptyProgress(row: BatchRow | undefined): BatchProgress {
  return {
    chunk: 0,
    chunks: 0,
    completed: row?.completed ?? 0,
    failed: row?.failed ?? 0,
    total: row?.total ?? 0,
    requestsPerSecond: 0,
    tokensPerSecond: 0,
    etaSeconds: null,
    hold: row ? holdOfRow(row) : null,
    updatedAt: Date.now(),
  }
}

/** A row as the queue sees it. */
function candidate(row: BatchRow & { seq: number }): QueueCandidate {
  return {
    id: row.id,
    seq: row.seq,
    status: row.status,
    model: row.model,
    priority: row.priority,
    queuedAt: (row.in_progress_at ?? row.created_at) * 1000,
    comparisonId: comparisonOf(row),
    remaining: Math.max(0, row.total - row.completed - row.failed),
  }
}

/** `metadata.comparison_id`: the arms of one comparison (compare/comparison-service.ts). */
function comparisonOf(row: BatchRow): string | null {
  if (!row.metadata) return null
  try {
    const id = (JSON.parse(row.metadata) as Record<string, unknown>).comparison_id
    return typeof id === 'string' ? id : null
  } catch {
    return null
  }
}
