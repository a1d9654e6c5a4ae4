import { useEffect } from 'react'
import { useShallow } from 'zustand/react/shallow'
import { Card } from '../components/Card'
import { JobProgress, StatusPill } from '../components/job-facts'
import { Pager } from '../components/Pager'
import { RequestPanel } from '../components/RequestPanel'
import { SearchBox } from '../components/SearchBox'
import { formatCount, formatEpochSeconds } from '../format'
import { jobRoute, type JobViewParams } from '../route'
import { jobViewParams, useJobViewStore } from '../store/job-view'
import { useRouteStore } from '../store/route'
import type { FinishReasonCount, ResultState } from '../types'
import { RESULT_STATES } from '../../../main/contract/results'

/** Why generation stopped, as OpenAI-compatible engines say it: the filter's choices until the job's own are read. */
const COMMON_FINISH_REASONS = ['stop', 'length', 'tool_calls', 'content_filter'] as const

/** The finish reason filter's choices: the job's own, counted; the one chosen (from an address) stays a choice. */
function finishChoices(counted: FinishReasonCount[] | null, chosen: string | null): { value: string; label: string }[] {
  const choices = counted ? counted.map((r) => ({ value: r.finish_reason, label: `${r.finish_reason} (${formatCount(r.count)})` })) : COMMON_FINISH_REASONS.map((f) => ({ value: f, label: f }))
  if (chosen !== null && !choices.some((c) => c.value === chosen)) choices.push({ value: chosen, label: counted ? `${chosen} (0)` : chosen })
  return choices
}

const STATE_TONE: Record<ResultState, string> = { succeeded: 'pill-ok', failed: 'pill-danger', pending: 'pill-info' }

function JobSummary(): React.JSX.Element {
  const batchId = useJobViewStore((s) => s.batchId)
  const job = useJobViewStore((s) => s.job)
  const error = useJobViewStore((s) => s.jobError)
  if (!job) {
    return (
      <Card id="job-summary" title={`Job ${batchId ?? ''}`} wide>
        {error ? <p className="callout callout-danger">Could not read the job: {error}</p> : <p className="muted">Loading…</p>}
      </Card>
    )
  }
  return (
    <Card
      id="job-summary"
      title={`Job ${job.id}`}
      wide
      head={
        <>
          <StatusPill status={job.status} />
          {job.running && <span className="pill pill-ok">current job</span>}
          <span className="job-model">{job.model ?? ''}</span>
          <span className="muted small">{job.endpoint}</span>
          <span className="spacer" />
          <time className="muted small">{formatEpochSeconds(job.created_at)}</time>
        </>
      }
    >
      <JobProgress job={job} />
    </Card>
  )
}

function Filters(): React.JSX.Element {
  const query = useJobViewStore((s) => s.query)
  const batchId = useJobViewStore((s) => s.batchId)
  const setSearch = useJobViewStore((s) => s.setSearch)
  const setStateFilter = useJobViewStore((s) => s.setStateFilter)
  const setFinishReason = useJobViewStore((s) => s.setFinishReason)
  const finishReasons = useJobViewStore((s) => s.finishReasons)
  const refreshFinishReasons = useJobViewStore((s) => s.refreshFinishReasons)
  return (
    <div className="row toolbar">
      <SearchBox key={batchId} value={query.q} onSearch={setSearch} label="Search the prompts and answers" placeholder="Search prompts and answers…" testId="results-search" />
      <label className="field inline small">
        State
        <select value={query.state ?? ''} onChange={(e) => setStateFilter((e.target.value || null) as ResultState | null)} data-testid="results-state">
          <option value="">all</option>
          {RESULT_STATES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label className="field inline small">
        Finish reason
        <select
          value={query.finishReason ?? ''}
          onChange={(e) => setFinishReason(e.target.value || null)}
          onFocus={() => void refreshFinishReasons()}
          data-testid="results-finish-reason"
        >
          <option value="">any</option>
          {finishChoices(finishReasons, query.finishReason).map((c) => (
            <option key={c.value} value={c.value}>
              {c.label}
            </option>
          ))}
        </select>
      </label>
    </div>
  )
}

function ResultsTable(): React.JSX.Element {
  const page = useJobViewStore((s) => s.page)
  const query = useJobViewStore((s) => s.query)
  const loading = useJobViewStore((s) => s.loading)
  const error = useJobViewStore((s) => s.pageError)
  const selected = useJobViewStore((s) => s.selected)
  const select = useJobViewStore((s) => s.select)
  const setOffset = useJobViewStore((s) => s.setOffset)
  const filtered = query.q.trim() !== '' || query.state !== null || query.finishReason !== null
  return (
    <Card id="results" title="Results" wide head={loading ? <span className="muted small">Loading…</span> : undefined}>
      <Filters />
      {error && (
        <p className="callout callout-danger" role="alert">
          Could not read the results: {error}
        </p>
      )}
      {page && page.data.length === 0 && (
        <p className="empty" data-testid="results-empty">
          {filtered ? 'No request matches.' : 'This job has no requests.'}
        </p>
      )}
      {page && page.data.length > 0 && (
        <div className="table-wrap results-wrap" aria-busy={loading}>
          <table data-testid="results-table">
            <thead>
              <tr>
                <th scope="col">Line</th>
                <th scope="col">custom_id</th>
                <th scope="col">State</th>
                <th scope="col">Latency</th>
                <th scope="col">Tokens in / out</th>
                <th scope="col">Finish</th>
                <th scope="col">Answer</th>
              </tr>
            </thead>
            <tbody>
              {page.data.map((r) => (
                <tr
                  key={r.custom_id}
                  className={selected === r.custom_id ? 'selected' : undefined}
                  aria-selected={selected === r.custom_id}
                  data-testid={`result-${r.custom_id}`}
                  onClick={() => select(r.custom_id)}
                >
                  <td className="num">{r.line}</td>
                  <td>
                    <button type="button" className="link" onClick={(e) => {
                        e.stopPropagation() // the row's own click would open it a second time
                        select(r.custom_id)
                      }}>
                      {r.custom_id}
                    </button>
                  </td>
                  <td>
                    <span className={`pill ${STATE_TONE[r.state]}`}>{r.state}</span>
                  </td>
                  <td className="num">{r.latency_ms !== null ? `${formatCount(r.latency_ms)} ms` : '–'}</td>
                  <td className="num">{r.usage ? `${formatCount(r.usage.input_tokens)} / ${formatCount(r.usage.output_tokens)}` : '–'}</td>
                  <td>{r.finish_reason ?? ''}</td>
                  <td className={`preview-cell${r.state === 'failed' ? ' danger-text' : ''}`}>{r.preview ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page && <Pager offset={query.offset} limit={query.limit} count={page.data.length} total={page.total} hasMore={page.has_more} onOffset={setOffset} noun="Requests" />}
    </Card>
  )
}

/**
 * The address follows where the view stands, and the view follows the address: a search, a filter, a page or the
 * request opened replaces the address (no history entry per key), and an address opened, reloaded or typed puts
 * the view there.
 */
function useAddress(batchId: string, params: JobViewParams | undefined): void {
  const open = useJobViewStore((s) => s.open)
  const close = useJobViewStore((s) => s.close)
  const replace = useRouteStore((s) => s.replace)
  useEffect(() => close, [batchId, close])
  useEffect(() => open(batchId, params), [batchId, params, open])
  // Compared field by field: the effect runs when where the view stands changes, not on each progress event.
  const shown = useJobViewStore((s) => s.batchId === batchId)
  const standing = useJobViewStore(useShallow(jobViewParams))
  useEffect(() => {
    const route = useRouteStore.getState().route
    if (shown && route.view === 'job' && route.batchId === batchId) replace(jobRoute(batchId, standing))
  }, [batchId, shown, standing, replace])
}

/** `#/jobs/<id>`: a job's progress, its results page by page with search and filters, one request in a side panel. */
export function JobView(props: { batchId: string; params?: JobViewParams }): React.JSX.Element {
  useAddress(props.batchId, props.params)
  const panelOpen = useJobViewStore((s) => s.selected !== null)
  return (
    <div className={panelOpen ? 'job-view with-panel' : 'job-view'} data-testid="job-view">
      <main className="grid">
        <JobSummary />
        <ResultsTable />
      </main>
      <RequestPanel />
    </div>
  )
}
