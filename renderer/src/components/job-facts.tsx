/** What the queue's rows and the Job view both show of a job: its status pill, its counts, and its live figures. */
import { formatCount, formatDuration, formatPercent, formatRate, plural } from '../format'
import { formatHash } from '../route'
import type { BatchStatus, Job } from '../types'
import { ProgressBar } from './ProgressBar'

export const TERMINAL: readonly BatchStatus[] = ['failed', 'completed', 'expired', 'cancelled']
export const CANCELLABLE: readonly BatchStatus[] = ['validating', 'in_progress']

export const STATUS_TONE: Record<BatchStatus, string> = {
  validating: 'pill-info',
  in_progress: 'pill-info',
  finalizing: 'pill-info',
  completed: 'pill-ok',
  failed: 'pill-danger',
  expired: 'pill-warn',
  cancelling: 'pill-warn',
  cancelled: '',
}

export function StatusPill(props: { status: BatchStatus }): React.JSX.Element {
  return (
    <span className={`pill ${STATUS_TONE[props.status]}`} data-testid="batch-status">
      {props.status}
    </span>
  )
}

/** The live counts while the job runs, else the stored ones. */
export function jobCounts(job: Job): { completed: number; failed: number; total: number } {
  const live = job.progress && !TERMINAL.includes(job.status) ? job.progress : null
  return live ?? job.request_counts
}

/** Why the job waits or what it is busy with, or null. */
export function jobDetail(job: Job): string | null {
  const terminal = TERMINAL.includes(job.status)
  // A queued job's place in the queue says why it waits (QueuePlaceLine); older services give no place.
  const queued = job.status === 'in_progress' && !job.running && !job.progress && !job.queue
  return job.status_detail ?? (terminal ? null : (job.hold?.detail ?? (queued ? 'queued: one job runs at a time' : null)))
}

/** "#2 in the queue · its model is loaded: … · starts in about 4 min": where a waiting job stands. */
export function QueuePlaceLine(props: { job: Job }): React.JSX.Element | null {
  const q = props.job.queue
  if (!q || TERMINAL.includes(props.job.status) || props.job.running) return null
  const eta = q.eta_seconds === null ? 'start time not known yet' : q.eta_seconds === 0 ? 'starts next' : `starts in about ${formatDuration(q.eta_seconds)}`
  return (
    <p className="job-queue small" data-testid="queue-place" data-reason={q.reason}>
      <strong>#{formatCount(q.position)} in the queue</strong>
      {' · '}
      {q.detail}
      {' · '}
      <span data-testid="queue-eta">{eta}</span>
    </p>
  )
}

/** Chunk k of N, the rates and the ETA of a running job. */
export function JobStats(props: { job: Job }): React.JSX.Element | null {
  const p = props.job.progress
  if (!p || TERMINAL.includes(props.job.status) || p.chunks === 0) return null
  return (
    <p className="job-stats small" data-testid="batch-stats">
      <span>
        chunk {formatCount(p.chunk)} of {formatCount(p.chunks)}
      </span>
      <span>{formatRate(p.requestsPerSecond)} requests/s</span>
      <span>{formatRate(p.tokensPerSecond)} tokens/s</span>
      {p.etaSeconds !== null && <span>ETA {formatDuration(p.etaSeconds)}</span>}
    </p>
  )
}

/** The words beside the bar: how far, or why there is nothing to count yet. */
function countsText(job: Job, done: number, total: number, fraction: number): string {
  if (total > 0) return `${formatCount(done)} of ${plural(total, 'request')} (${formatPercent(fraction)})`
  if (job.status === 'validating') return 'checking the file…'
  if (job.status === 'failed') return 'the file was rejected: nothing ran'
  return 'no requests'
}

/**
 * How far a job is: the bar, the counts, chunk k of N with rates and ETA, why it waits, and the comparison it
 * belongs to (the queue's rows and the Job view show the same).
 */
export function JobProgress(props: { job: Job }): React.JSX.Element {
  const job = props.job
  const c = jobCounts(job)
  const done = c.completed + c.failed
  const fraction = c.total > 0 ? done / c.total : job.status === 'completed' ? 1 : 0
  const terminal = TERMINAL.includes(job.status)
  const detail = jobDetail(job)
  const comparisonId = job.metadata?.comparison_id
  return (
    <>
      <div className="job-progress">
        <ProgressBar
          value={fraction}
          label={`Progress of ${job.id}`}
          text={`${formatCount(done)} of ${formatCount(c.total)} requests`}
          tone={job.status === 'failed' ? 'danger' : terminal ? 'ok' : undefined}
        />
        <span className="small" data-testid="job-counts">
          {countsText(job, done, c.total, fraction)}
          {' · '}
          <span className="ok-text">{formatCount(c.completed)} completed</span>
          {' · '}
          <span className={c.failed > 0 ? 'danger-text' : ''}>{formatCount(c.failed)} failed</span>
        </span>
      </div>
      <JobStats job={job} />
      <QueuePlaceLine job={job} />
      {detail && (
        <p className="job-detail small" data-testid="batch-detail" data-hold={job.status_detail || terminal ? undefined : job.hold?.kind}>
          {detail}
        </p>
      )}
      {comparisonId && (
        <p className="muted small">
          Part of the comparison <a href={formatHash({ view: 'compare', comparisonId })}>{comparisonId}</a>.
        </p>
      )}
    </>
  )
}
