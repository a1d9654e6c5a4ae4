import type { BatchStatus } from '../main/contract/batches'
import type { Job } from '../main/contract/jobs'
import { bar, duration, num, rate } from './format'

export const FINAL_STATUSES: readonly BatchStatus[] = ['completed', 'failed', 'cancelled', 'expired']

/**
 * One line saying where a job is: status, chunk k of N, completed/failed of total, requests/s, tokens/s, ETA
 * and why it waits. Pure: the same line on a terminal (redrawn, with a bar) and in a log (a line per change).
 */
export function progressLine(job: Job, options: { bar?: boolean } = {}): string {
  const counts = job.request_counts
  const p = job.progress
  const total = p?.total ?? counts.total
  const completed = Math.max(p?.completed ?? 0, counts.completed)
  const failed = Math.max(p?.failed ?? 0, counts.failed)
  const parts: string[] = [`${job.id} ${job.status}`]
  if (job.status_detail) parts.push(job.status_detail)
  const running = job.status === 'in_progress' || job.status === 'cancelling'
  if (total > 0 && job.status !== 'validating') {
    const done = completed + failed
    if (running && p && p.chunks > 0) parts.push(`chunk ${num(p.chunk)}/${num(p.chunks)}`)
    parts.push(`${options.bar ? `${bar(done / total)} ` : ''}${num(done)}/${num(total)} done (${num(completed)} ok, ${num(failed)} failed)`)
    if (running && p && (p.requestsPerSecond > 0 || p.tokensPerSecond > 0)) {
      parts.push(`${rate(p.requestsPerSecond)} req/s`, `${rate(p.tokensPerSecond)} tok/s`)
    }
    if (running && p?.etaSeconds !== null && p?.etaSeconds !== undefined) parts.push(`ETA ${duration(p.etaSeconds)}`)
  }
  const hold = job.hold ?? p?.hold ?? null
  if (hold && !FINAL_STATUSES.includes(job.status)) parts.push(`held (${hold.kind}): ${hold.detail}`)
  return parts.join(' · ')
}

/** What a finished job's errors were (a failed validation lists its bad lines), a line each, at most `max`. */
export function jobErrors(job: Job, max = 10): string[] {
  const errors = job.errors?.data ?? []
  const lines = errors.slice(0, max).map((e) => `  ${e.message}${e.code ? ` [${e.code}]` : ''}`)
  if (errors.length > max) lines.push(`  ... and ${num(errors.length - max)} more (vbs status ${job.id} --json lists them all)`)
  return lines
}
