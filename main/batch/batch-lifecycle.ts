import type { Database } from 'better-sqlite3'
import type { Logger } from 'pino'
import type { ServiceEvents } from '../events'
import type { BatchesRepo, BatchPatch } from '../store/batches-repo'
import { nowSeconds } from '../store/ids'
import { toBatchObject } from '../store/batch-row'
import type { BatchObject, BatchStatus } from '../contract/batches'

/** The lifecycle of a batch: which status may follow which. */
const NEXT: Record<BatchStatus, readonly BatchStatus[]> = {
  validating: ['in_progress', 'failed', 'cancelling'],
  in_progress: ['finalizing', 'expired', 'cancelling', 'failed'],
  finalizing: ['completed', 'failed'],
  // A cancel that arrives while an expiry drains its requests: the batch still ends as expired.
  cancelling: ['cancelled', 'expired'],
  failed: [],
  completed: [],
  expired: [],
  cancelled: [],
}

/** The timestamp column each status sets when entered. */
const STAMP: Partial<Record<BatchStatus, keyof BatchPatch>> = {
  in_progress: 'in_progress_at',
  finalizing: 'finalizing_at',
  completed: 'completed_at',
  failed: 'failed_at',
  expired: 'expired_at',
  cancelling: 'cancelling_at',
  cancelled: 'cancelled_at',
}

export class BatchTransitionError extends Error {}

/** Hears every status change inside its transaction (the webhooks' outbox writes its messages there). */
export type TransitionObserver = (batch: BatchObject, from: BatchStatus, to: BatchStatus) => void

/** The one place a batch changes status: checked against the lifecycle, stamped, logged and announced. */
export class BatchLifecycle {
  private readonly observers: TransitionObserver[] = []
  private transaction: <T>(fn: () => T) => T = (fn) => fn()

  constructor(
    private readonly batches: BatchesRepo,
    private readonly events: ServiceEvents,
    private readonly log: Logger,
  ) {}

  /**
   * Adds an observer, called in the same SQLite transaction as the change (`transaction` opens one, or joins the
   * caller's), so what it writes is committed with the change or not at all: an event is never lost to a crash.
   */
  observe(observer: TransitionObserver, transaction: <T>(fn: () => T) => T): void {
    this.observers.push(observer)
    this.transaction = transaction
  }

  transition(id: string, to: BatchStatus, patch: BatchPatch = {}): BatchObject {
    if (this.observers.length === 0) return this.change(id, to, patch)
    return this.events.afterCommit(() => this.transaction(() => this.change(id, to, patch)))
  }

  private change(id: string, to: BatchStatus, patch: BatchPatch): BatchObject {
    const row = this.batches.get(id)
    if (!row) throw new BatchTransitionError(`batch ${id} does not exist`)
    const from = row.status
    if (!NEXT[from].includes(to)) throw new BatchTransitionError(`batch ${id} cannot go from ${from} to ${to}`)
    const stamp = STAMP[to]
    // A new status ends what the old one was busy with and any hold on it.
    const full: BatchPatch = { ...patch, status: to, status_detail: patch.status_detail ?? null, hold: patch.hold ?? null }
    if (stamp) (full as Record<string, unknown>)[stamp] = nowSeconds()
    this.batches.update(id, full)
    const batch = toBatchObject(this.batches.get(id)!)
    for (const observe of this.observers) observe(batch, from, to)
    this.log.info({ batch: id, from, to }, `batch ${id}: ${from} -> ${to}`)
    this.events.emit('batch.status', { batch, from, to })
    return batch
  }

  /**
   * Runs `fn` in one SQLite transaction; the events of its transitions (and of files it registers) go out only
   * once it has committed, and never when it rolls back.
   */
  atomically<T>(db: Database, fn: () => T): T {
    return this.events.afterCommit(() => db.transaction(fn)())
  }

  static canMove(from: BatchStatus, to: BatchStatus): boolean {
    return NEXT[from].includes(to)
  }
}
