import { delay } from '../bench-util'
import type { Service } from '../launcher'
import type { BatchProgress } from '../../../main/batch/progress'
import { POLL_MS } from './setup'

/**
 * Watching a job through GET /api/batches/{id}: each progress snapshot holds `completed` and `updatedAt` (the
 * service's clock when it was made, right after a commit), so a job's rate is taken on the service's clock.
 */

/** The fields of a progress snapshot the watch reads. */
type ProgressView = Pick<BatchProgress, 'completed' | 'failed' | 'total' | 'requestsPerSecond' | 'updatedAt'>

export interface JobView {
  id: string
  status: string
  request_counts?: { total: number; completed: number; failed: number }
  output_file_id: string | null
  error_file_id: string | null
  progress: ProgressView | null
  status_detail: string | null
}

interface Snapshot {
  completed: number
  updatedAt: number
}

export interface Watch {
  /** Client-side Date.now() of the first poll that showed in_progress. */
  inProgressAt: number | null
  /** The first progress snapshot with completed > 0, and the last (largest completed) seen. */
  first: Snapshot | null
  last: Snapshot | null
  /** Client-side: first poll with every request done (finalizing or completed), and the one showing completed. */
  doneAt: number | null
  completedAt: number | null
  final: JobView | null
  maxRpsField: number
}

export function newWatch(): Watch {
  return { inProgressAt: null, first: null, last: null, doneAt: null, completedAt: null, final: null, maxRpsField: 0 }
}

/** Feeds one poll's answer into the watch. */
function observe(w: Watch, job: JobView, now: number): void {
  if (job.status !== 'validating' && w.inProgressAt === null) w.inProgressAt = now
  const p = job.progress
  if (p && p.completed + p.failed > 0) {
    const s = { completed: p.completed + p.failed, updatedAt: p.updatedAt }
    if (w.first === null) w.first = s
    if (w.last === null || s.completed > w.last.completed || (s.completed === w.last.completed && s.updatedAt < w.last.updatedAt)) w.last = s
    if (p.total > 0 && p.completed + p.failed >= p.total && w.doneAt === null) w.doneAt = now
    if (p.requestsPerSecond > w.maxRpsField) w.maxRpsField = p.requestsPerSecond
  }
  if ((job.status === 'finalizing' || job.status === 'completed') && w.doneAt === null) w.doneAt = now
  if (job.status === 'completed' && w.completedAt === null) w.completedAt = now
}

/** Requests per second between the first and the last snapshot, on the service's clock. */
export function rateOf(w: Watch): { rps: number | null; requests: number; seconds: number } {
  if (!w.first || !w.last || w.last.updatedAt <= w.first.updatedAt) return { rps: null, requests: 0, seconds: 0 }
  const requests = w.last.completed - w.first.completed
  const seconds = (w.last.updatedAt - w.first.updatedAt) / 1000
  return { rps: requests / seconds, requests, seconds }
}

/**
 * Polls /api/batches/{id} every POLL_MS until `until` says stop (or the batch fails/ends otherwise), bounded.
 */
export async function pollJob(
  service: Service,
  batchId: string,
  w: Watch,
  timeoutMs: number,
  until: (job: JobView) => boolean,
  onJob: (job: JobView) => void = () => undefined,
): Promise<JobView> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const job = await service.api<JobView>(`/api/batches/${batchId}`)
    observe(w, job, Date.now())
    onJob(job)
    if (until(job)) return job
    if (['failed', 'expired', 'cancelled', 'cancelling'].includes(job.status)) {
      throw new Error(`batch ${batchId} went to ${job.status}: ${job.status_detail ?? ''}`)
    }
    if (job.status === 'completed') return job
    if (Date.now() > deadline) {
      const p = job.progress
      throw new Error(`batch ${batchId} not done within ${Math.round(timeoutMs / 1000)} s (status ${job.status}, ${p ? `${p.completed}/${p.total}` : 'no progress'}, ${job.status_detail ?? ''})`)
    }
    await delay(POLL_MS)
  }
}

/** A bound for a job's run: generous, so only a hang trips it (a 200,000-request job at 100/s still fits). */
export const jobTimeoutMs = (n: number): number => 120_000 + n * 10
