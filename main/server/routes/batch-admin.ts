import Router from '@koa/router'
import { notFound } from '../../api-error'
import type { BatchService } from '../../batch/batch-service'
import type { Scheduler } from '../../batch/scheduler'
import { retryFailed } from '../../batch/retry-failed'
import type { Store } from '../../store'
import type { FileService } from '../../files/file-service'
import { BATCH_ID } from '../../store/ids'
import type { AdminAccess } from '../admin-access'
import type { AppState } from '../middleware'
import { listParams } from './list-params'
import { echo } from '../../api-params'
import { ACTIVE_STATUSES } from '../../contract/batches'
import type { DeadLetterPage, Job, JobPage, PauseState, PriorityChange, QueuePlace, ScheduleState } from '../../contract/jobs'
import { readJsonBody } from '../json-body'
import { holdOfRow, progressOfRow } from '../../store/batch-row'

export interface BatchAdminDeps {
  store: Store
  files: FileService
  batches: BatchService
  scheduler: Scheduler
  /** Pausing and resuming all batches are admin actions (this machine, or the admin key). */
  admin: AdminAccess
  maxJsonBodyBytes: number
}

/** This app's own view of batch jobs: progress and why a job waits, dead letters, retry, pause. */
export function batchAdminRouter(deps: BatchAdminDeps): Router<AppState> {
  const { store, batches, scheduler } = deps
  const router = new Router<AppState>()

  /** `queue`: the places of waiting jobs, computed once per answer (a list asks for many jobs). */
  const job = (id: string, queue: Map<string, QueuePlace>): Job => {
    const batch = batches.get(id)
    const row = store.batches.get(batch.id)!
    const progress = scheduler.progressOf(batch.id) ?? progressOfRow(row)
    // The live progress has the newest hold; the row keeps it across a restart.
    const hold = ACTIVE_STATUSES.includes(batch.status) ? (scheduler.progressOf(batch.id)?.hold ?? holdOfRow(row)) : null
    return {
      ...batch,
      status_detail: row.status_detail,
      hold,
      progress,
      running: scheduler.runningBatch === batch.id,
      priority: row.priority,
      queue: queue.get(batch.id) ?? null,
    }
  }

  router.get('/api/batches', (ctx) => {
    const { limit, after } = listParams(ctx.query, { defaultLimit: 50, maxLimit: 100, orders: false })
    const page = batches.list(limit, after)
    const queue = scheduler.queuePlaces()
    const body: JobPage = {
      object: 'list',
      data: page.data.map((b) => job(b.id, queue)),
      has_more: page.hasMore,
      paused: scheduler.paused,
      schedule: scheduler.scheduleState(),
    }
    ctx.body = body
  })

  router.get('/api/batches/:id', (ctx) => {
    ctx.body = job(ctx.params.id, scheduler.queuePlaces())
  })

  router.put('/api/batches/:id/priority', async (ctx) => {
    const body = await readJsonBody(ctx, deps.maxJsonBodyBytes)
    batches.setPriority(ctx.params.id, (body as Partial<PriorityChange>).priority)
    scheduler.kick()
    ctx.body = job(ctx.params.id, scheduler.queuePlaces())
  })

  router.get('/api/batches/:id/failed', (ctx) => {
    const id = ctx.params.id
    batches.get(id) // 404 for an unknown batch
    const { limit } = listParams(ctx.query, { defaultLimit: 100, maxLimit: 10_000, orders: false })
    const afterLine = Number(ctx.query.after_line ?? 0) || 0
    const rows = store.results.deadLetters(store.batches.seqOf(id), limit + 1, afterLine)
    const body: DeadLetterPage = {
      object: 'list',
      data: rows.slice(0, limit).map((r) => ({ custom_id: r.custom_id, line: r.line, error_type: r.error_type, message: r.message, attempts: r.attempts, failed_at: r.created_at })),
      has_more: rows.length > limit,
    }
    ctx.body = body
  })

  router.post('/api/batches/:id/retry-failed', async (ctx) => {
    if (!BATCH_ID.test(ctx.params.id)) throw notFound(`No such Batch object: ${echo(ctx.params.id)}`, 'id')
    ctx.body = await retryFailed(store, deps.files, batches, ctx.params.id)
  })

  router.post('/api/batches/pause', deps.admin.require, (ctx) => {
    scheduler.pause()
    ctx.body = { paused: true } satisfies PauseState
  })
  router.post('/api/batches/resume', deps.admin.require, (ctx) => {
    scheduler.resume()
    ctx.body = { paused: false } satisfies PauseState
  })

  // "Run now anyway": batches run whatever the batch hours say, until the window next opens; DELETE ends it.
  router.post('/api/batches/run-now', deps.admin.require, (ctx) => {
    ctx.body = scheduler.runNow(true) satisfies ScheduleState
  })
  router.delete('/api/batches/run-now', deps.admin.require, (ctx) => {
    ctx.body = scheduler.runNow(false) satisfies ScheduleState
  })

  return router
}
