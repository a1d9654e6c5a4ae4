import { BATCH_PRIORITIES } from '../../../main/contract/jobs'
import { formatCount, formatEpochSeconds, plural } from '../format'
import { formatHash } from '../route'
import { useQueueStore, type JobErrors } from '../store/queue'
import type { BatchPriority, Job } from '../types'
import { CANCELLABLE, JobProgress, StatusPill, TERMINAL } from './job-facts'
import { Card } from './Card'

function ErrorsTable(props: { errors: JobErrors }): React.JSX.Element {
  const e = props.errors
  switch (e.kind) {
    case 'loading':
      return <p className="muted small">Loading the failed requests…</p>
    case 'error':
      return <p className="callout callout-danger small">{e.message}</p>
    case 'validation':
      return (
        <div className="table-wrap">
          <table data-testid="batch-errors">
            <caption>Lines the service rejected ({formatCount(e.rows.length)})</caption>
            <thead>
              <tr>
                <th scope="col">Line</th>
                <th scope="col">Code</th>
                <th scope="col">Field</th>
                <th scope="col">Message</th>
              </tr>
            </thead>
            <tbody>
              {e.rows.map((r, i) => (
                <tr key={i}>
                  <td className="num">{r.line ?? '–'}</td>
                  <td>
                    <code>{r.code}</code>
                  </td>
                  <td>{r.param ?? ''}</td>
                  <td>{r.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )
    case 'requests':
      return e.rows.length === 0 ? (
        <p className="muted small">No failed requests are kept for this batch.</p>
      ) : (
        <div className="table-wrap">
          <table data-testid="batch-errors">
            <caption>Failed requests ({formatCount(e.rows.length)})</caption>
            <thead>
              <tr>
                <th scope="col">Line</th>
                <th scope="col">custom_id</th>
                <th scope="col">Error</th>
                <th scope="col">Message</th>
                <th scope="col">Attempts</th>
              </tr>
            </thead>
            <tbody>
              {e.rows.map((r) => (
                <tr key={`${r.line}-${r.custom_id}`}>
                  <td className="num">{r.line}</td>
                  <td>
                    <code>{r.custom_id}</code>
                  </td>
                  <td>{r.error_type}</td>
                  <td>{r.message}</td>
                  <td className="num">{r.attempts}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )
  }
}

/** The first validation error, with its line number unless the message already starts with it. */
function firstError(job: Job): string {
  const e = job.errors?.data[0]
  if (!e) return ''
  return e.line !== null && !/^line \d+/.test(e.message) ? `line ${e.line}: ${e.message}` : e.message
}

function JobActions(props: { job: Job }): React.JSX.Element {
  const { job } = props
  const pending = useQueueStore((s) => s.pending[job.id])
  const errorsOpen = useQueueStore((s) => s.errors[job.id] !== undefined)
  const cancel = useQueueStore((s) => s.cancel)
  const retry = useQueueStore((s) => s.retryFailed)
  const download = useQueueStore((s) => s.download)
  const toggleErrors = useQueueStore((s) => s.toggleErrors)
  const setPriority = useQueueStore((s) => s.setPriority)
  const terminal = TERMINAL.includes(job.status)
  const hasValidationErrors = job.status === 'failed' && (job.errors?.data.length ?? 0) > 0
  const canShowErrors = hasValidationErrors || job.request_counts.failed > 0
  const canRetry = terminal && job.request_counts.failed > 0 && !hasValidationErrors
  return (
    <div className="job-actions">
      {CANCELLABLE.includes(job.status) && job.priority && (
        <label className="small">
          Priority{' '}
          <select
            aria-label={`Priority of ${job.id}`}
            data-testid="job-priority"
            value={job.priority}
            disabled={pending !== undefined}
            onChange={(e) => void setPriority(job.id, e.target.value as BatchPriority)}
          >
            {BATCH_PRIORITIES.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
      )}
      {CANCELLABLE.includes(job.status) && (
        <button type="button" disabled={pending !== undefined} onClick={() => void cancel(job.id)}>
          {pending === 'cancel' ? 'Cancelling…' : 'Cancel'}
        </button>
      )}
      {job.output_file_id && (
        <button type="button" disabled={pending !== undefined} onClick={() => void download(job.id, 'output')}>
          {pending === 'download-output' ? 'Downloading…' : 'Download output'}
        </button>
      )}
      {job.error_file_id && (
        <button type="button" disabled={pending !== undefined} onClick={() => void download(job.id, 'errors')}>
          {pending === 'download-errors' ? 'Downloading…' : 'Download errors'}
        </button>
      )}
      {canRetry && (
        <button type="button" disabled={pending !== undefined} onClick={() => void retry(job.id)}>
          {pending === 'retry' ? 'Retrying…' : 'Retry failed'}
        </button>
      )}
      {canShowErrors && (
        <button type="button" aria-expanded={errorsOpen} onClick={() => void toggleErrors(job.id)}>
          {errorsOpen ? 'Hide errors' : 'Show errors'}
        </button>
      )}
    </div>
  )
}

function JobRow(props: { id: string }): React.JSX.Element | null {
  const job = useQueueStore((s) => s.jobs[props.id])
  const actionError = useQueueStore((s) => s.actionErrors[props.id])
  const errors = useQueueStore((s) => s.errors[props.id])
  if (!job) return null
  const terminal = TERMINAL.includes(job.status)
  const retryOf = job.metadata?.retry_of
  const retriedBy = job.metadata?.retried_by
  return (
    <li className={`job${job.running ? ' job-running' : ''}`} data-testid={`job-${job.id}`}>
      <div className="job-head">
        <a className="job-id" href={formatHash({ view: 'job', batchId: job.id })} title="Open the job: its results, one by one">
          <code>{job.id}</code>
        </a>
        <StatusPill status={job.status} />
        {job.running && <span className="pill pill-ok">current job</span>}
        <span className="job-model">{job.model ?? (terminal ? '' : 'model not known yet')}</span>
        <span className="muted small">{job.endpoint}</span>
        <span className="spacer" />
        <time className="muted small" dateTime={new Date(job.created_at * 1000).toISOString()}>
          {formatEpochSeconds(job.created_at)}
        </time>
      </div>
      <JobProgress job={job} />
      {job.status === 'failed' && job.errors && job.errors.data.length > 0 && !errors && (
        <p className="danger-text small">
          {plural(job.errors.data.length, 'line')} rejected, e.g. {firstError(job)}
        </p>
      )}
      {(retryOf || retriedBy) && (
        <p className="muted small">
          {retryOf && (
            <>
              Retry of <code>{retryOf}</code>.{' '}
            </>
          )}
          {retriedBy && (
            <>
              Failed requests retried as <code>{retriedBy}</code>.
            </>
          )}
        </p>
      )}
      <JobActions job={job} />
      {actionError && (
        <p className="callout callout-danger small" role="alert">
          {actionError}
        </p>
      )}
      {errors && <ErrorsTable errors={errors} />}
    </li>
  )
}

function PauseButton(): React.JSX.Element {
  const paused = useQueueStore((s) => s.paused)
  const pausing = useQueueStore((s) => s.pausing)
  const setPaused = useQueueStore((s) => s.setPaused)
  return (
    <button type="button" disabled={pausing} onClick={() => void setPaused(!paused)}>
      {paused ? 'Resume all' : 'Pause all'}
    </button>
  )
}

/** "22:00" today, else "Tue 22:00": when the batch hours next open. */
function whenText(at: number, now = Date.now()): string {
  const d = new Date(at)
  const hm = d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })
  return d.toDateString() === new Date(now).toDateString() ? `today at ${hm}` : `${d.toLocaleDateString('en-GB', { weekday: 'short' })} at ${hm}`
}

/** The batch hours and idle-only: why batches wait, until when, and "Run now anyway" (or the way back). */
function ScheduleBanner(): React.JSX.Element | null {
  const schedule = useQueueStore((s) => s.schedule)
  const pending = useQueueStore((s) => s.schedulePending)
  const error = useQueueStore((s) => s.scheduleError)
  const setRunNow = useQueueStore((s) => s.setRunNow)
  if (!schedule) return null
  const errorLine = error && (
    <p className="callout callout-danger small" role="alert">
      {error}
    </p>
  )
  if (schedule.run_now) {
    return (
      <div className="callout callout-info" data-testid="schedule-run-now">
        <p>
          Running now anyway
          {schedule.run_now_until !== null ? `, until the batch hours open ${whenText(schedule.run_now_until)}` : ', until the desktop is next idle'}
          {schedule.batch_hours ? ` (batch hours ${schedule.batch_hours})` : ''}.
        </p>
        <button type="button" disabled={pending} onClick={() => void setRunNow(false)}>
          Back to batch hours
        </button>
        {errorLine}
      </div>
    )
  }
  if (schedule.open || !schedule.hold) return schedule.batch_hours || schedule.when_idle ? <ScheduleNote /> : null
  return (
    <div className="callout callout-warn" data-testid="schedule-held" data-hold={schedule.hold.kind}>
      <p>
        <strong>{schedule.hold.kind === 'quiet_hours' ? 'Outside the batch hours' : 'The desktop is in use'}:</strong>{' '}
        {schedule.next_start !== null ? `batch jobs start ${whenText(schedule.next_start)}` : 'batch jobs start once the desktop is idle'}. Real-time
        requests are served as usual.
      </p>
      <p className="muted small">{schedule.hold.detail}</p>
      <button type="button" disabled={pending} onClick={() => void setRunNow(true)}>
        Run now anyway
      </button>
      {errorLine}
    </div>
  )
}

/** While the schedule lets batches run: which schedule is set. */
function ScheduleNote(): React.JSX.Element {
  const hours = useQueueStore((s) => s.schedule?.batch_hours ?? '')
  const whenIdle = useQueueStore((s) => s.schedule?.when_idle ?? false)
  return (
    <p className="muted small" data-testid="schedule-note">
      {[hours ? `Batch hours ${hours}` : null, whenIdle ? 'only while the desktop is idle' : null].filter(Boolean).join(', ')}.
    </p>
  )
}

export function QueueSection(): React.JSX.Element {
  const order = useQueueStore((s) => s.order)
  const loaded = useQueueStore((s) => s.loaded)
  const loadError = useQueueStore((s) => s.loadError)
  const hasMore = useQueueStore((s) => s.hasMore)
  const paused = useQueueStore((s) => s.paused)
  const pauseError = useQueueStore((s) => s.pauseError)
  const loadMore = useQueueStore((s) => s.loadMore)
  return (
    <Card
      id="queue"
      title="Batch jobs"
      wide
      head={
        <>
          {loaded && <span className="muted">{plural(order.length, 'job')}</span>}
          <span className="spacer" />
          <PauseButton />
        </>
      }
    >
      {paused && (
        <p className="callout callout-warn" data-testid="queue-paused">
          All batch jobs are paused (Pause all): nothing new is sent to the engine. Press Resume all to continue.
        </p>
      )}
      <ScheduleBanner />
      {pauseError && (
        <p className="callout callout-danger" role="alert">
          {pauseError}
        </p>
      )}
      {loadError && <p className="callout callout-danger">Could not read the batch jobs: {loadError}</p>}
      {!loaded && !loadError && <p className="muted">Loading…</p>}
      {loaded && order.length === 0 && (
        <div className="empty" data-testid="queue-empty">
          <p>
            <strong>No batch jobs yet:</strong> drop a .jsonl file here or use the API.
          </p>
          <pre className="small">{`client.files.create(file=open("requests.jsonl", "rb"), purpose="batch")
client.batches.create(input_file_id=..., endpoint="/v1/chat/completions", completion_window="24h")`}</pre>
        </div>
      )}
      {order.length > 0 && (
        <ul className="jobs">
          {order.map((id) => (
            <JobRow key={id} id={id} />
          ))}
        </ul>
      )}
      {hasMore && (
        <button type="button" onClick={() => void loadMore()}>
          Load older jobs
        </button>
      )}
    </Card>
  )
}
