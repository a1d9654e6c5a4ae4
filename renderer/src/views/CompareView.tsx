import { useEffect, useState } from 'react'
import { useShallow } from 'zustand/react/shallow'
import { Card } from '../components/Card'
import { ComparisonFigures } from '../components/ComparisonFigures'
import { ComparisonRows } from '../components/ComparisonRows'
import { StatusPill } from '../components/job-facts'
import { NewBatchSection } from '../components/NewBatchSection'
import { SearchBox } from '../components/SearchBox'
import { MAX_MODELS, MIN_MODELS } from '../components/RunOnModels'
import { compareKeyAction } from '../compare-keys'
import { formatCount, formatEpochSeconds } from '../format'
import { compareRoute, formatHash, type CompareViewParams } from '../route'
import { compareViewParams, useCompareStore } from '../store/compare'
import { useComparisonsStore } from '../store/comparisons'
import { useQueueStore } from '../store/queue'
import { useRouteStore } from '../store/route'
import type { Job } from '../types'

function ComparisonList(): React.JSX.Element {
  const list = useComparisonsStore((s) => s.list)
  const loaded = useComparisonsStore((s) => s.loaded)
  const error = useComparisonsStore((s) => s.loadError)
  return (
    <Card id="comparisons" title="Comparisons" wide>
      {error && <p className="callout callout-danger">Could not read the comparisons: {error}</p>}
      {!loaded && !error && <p className="muted">Loading…</p>}
      {loaded && list.length === 0 && (
        <p className="empty" data-testid="comparisons-empty">
          No comparisons yet: run a file on several models, or compare jobs that ran the same file.
        </p>
      )}
      {list.length > 0 && (
        <div className="table-wrap">
          <table data-testid="comparison-list">
            <thead>
              <tr>
                <th scope="col">Comparison</th>
                <th scope="col">Models</th>
                <th scope="col">Rows</th>
                <th scope="col">Votes</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {list.map((c) => (
                <tr key={c.id}>
                  <td>
                    <a href={formatHash({ view: 'compare', comparisonId: c.id })}>{c.name ?? c.id}</a>
                    {c.name && <code className="muted small"> {c.id}</code>}
                  </td>
                  <td>
                    {c.arms.map((a) => (
                      <span key={a.batch_id} className="arm-chip">
                        {a.model} <StatusPill status={a.status} />
                      </span>
                    ))}
                  </td>
                  <td className="num">{formatCount(c.rows)}</td>
                  <td className="num">{formatCount(c.votes.total)}</td>
                  <td>{formatEpochSeconds(c.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  )
}

const comparable = (j: Job | null | undefined): j is Job => !!j && j.model !== null && j.request_counts.total > 0

/** What a typed filter that is a whole batch id looks like (looked up by itself when the pages read do not hold it). */
const WHOLE_BATCH_ID = /^batch_[A-Za-z0-9]+$/

/**
 * Compare jobs that exist: any of different models that share custom_ids (the same file run on each). Any job can
 * be found: the list filters by model or id, reads older pages of jobs on demand, and a whole batch id is looked up.
 */
function CompareJobs(): React.JSX.Element {
  const order = useQueueStore((s) => s.order)
  const jobs = useQueueStore((s) => s.jobs)
  const hasMore = useQueueStore((s) => s.hasMore)
  const loadMore = useQueueStore((s) => s.loadMore)
  const creating = useComparisonsStore((s) => s.creating)
  const error = useComparisonsStore((s) => s.createError)
  const createFromJobs = useComparisonsStore((s) => s.createFromJobs)
  const found = useComparisonsStore((s) => s.found)
  const findError = useComparisonsStore((s) => s.findError)
  const findJob = useComparisonsStore((s) => s.findJob)
  const navigate = useRouteStore((s) => s.navigate)
  const [filter, setFilter] = useState('')
  const [chosen, setChosen] = useState<Job[]>([])
  const [loadingMore, setLoadingMore] = useState(false)
  const wanted = filter.trim()
  const candidates = order.map((id) => jobs[id]).filter(comparable)
  const needle = wanted.toLowerCase()
  const listed = candidates.filter((j) => needle === '' || j.id.toLowerCase().includes(needle) || (j.model ?? '').toLowerCase().includes(needle))
  // Only when nothing read so far matches: a prefix of a listed id is not looked up (nor called missing).
  const lookUp = WHOLE_BATCH_ID.test(wanted) && listed.length === 0 ? wanted : null
  useEffect(() => void findJob(lookUp), [lookUp, findJob])
  const extra = lookUp !== null && found?.id === lookUp && comparable(found) ? [found] : []
  const shownIds = new Set([...listed, ...extra].map((j) => j.id))
  // What is picked stays in the list while the filter changes.
  const shown = [...listed, ...extra, ...chosen.filter((j) => !shownIds.has(j.id))]
  const picked = chosen.map((j) => jobs[j.id] ?? j)
  const isPicked = (id: string): boolean => chosen.some((j) => j.id === id)
  const models = new Set(picked.map((j) => j.model))
  const sameModel = models.size < picked.length
  const toggle = (j: Job): void => setChosen((c) => (c.some((x) => x.id === j.id) ? c.filter((x) => x.id !== j.id) : [...c, j]))
  const run = async (): Promise<void> => {
    const id = await createFromJobs(picked.map((j) => j.id))
    if (id) navigate({ view: 'compare', comparisonId: id })
  }
  const more = async (): Promise<void> => {
    setLoadingMore(true)
    try {
      await loadMore()
    } finally {
      setLoadingMore(false)
    }
  }
  return (
    <Card id="compare-jobs" title="Compare existing jobs" wide>
      <p className="muted small">
        Pick {MIN_MODELS} to {MAX_MODELS} jobs of different models that ran the same requests (they are matched by custom_id).
      </p>
      <div className="row toolbar">
        <SearchBox value={filter} onSearch={setFilter} label="Find a job by model or id" placeholder="Find a job by model or id…" testId="compare-jobs-search" />
        <span className="muted small" data-testid="compare-jobs-count">
          {needle === '' ? `${formatCount(candidates.length)} jobs` : `${formatCount(listed.length)} of ${formatCount(candidates.length)} jobs match`}
          {hasMore ? ' (older jobs not read yet)' : ''}
        </span>
      </div>
      {lookUp !== null && findError && (
        <p className="danger-text small" data-testid="compare-jobs-lookup">
          {findError}
        </p>
      )}
      {shown.length === 0 ? (
        <p className="muted" data-testid="compare-jobs-empty">
          {candidates.length === 0 && needle === '' && !hasMore
            ? 'No jobs with requests yet.'
            : `No job${needle === '' ? ' with requests' : ` matching '${wanted}'`} among the jobs read so far.${hasMore ? ' Read older jobs to look further, or type a whole batch id.' : ''}`}
        </p>
      ) : (
        <ul className="job-picker">
          {shown.map((j) => (
            <li key={j.id}>
              <label className="check">
                <input
                  type="checkbox"
                  checked={isPicked(j.id)}
                  disabled={creating || (!isPicked(j.id) && chosen.length >= MAX_MODELS)}
                  onChange={() => toggle(j)}
                  aria-label={`Compare ${j.id}`}
                />
                <code>{j.id}</code> <strong>{j.model}</strong> <StatusPill status={j.status} />
                <span className="muted small">
                  {formatCount(j.request_counts.total)} requests · {formatEpochSeconds(j.created_at)}
                </span>
              </label>
            </li>
          ))}
        </ul>
      )}
      {hasMore && (
        <button type="button" disabled={loadingMore} onClick={() => void more()}>
          Read older jobs
        </button>
      )}
      <div className="row">
        <button type="button" className="primary" disabled={creating || picked.length < MIN_MODELS || sameModel} onClick={() => void run()}>
          {picked.length >= MIN_MODELS ? `Compare ${picked.length} jobs` : 'Compare the jobs picked'}
        </button>
        {sameModel && <span className="danger-text small">Two of the jobs picked ran the same model: pick jobs of different models.</span>}
      </div>
      {error && (
        <p className="callout callout-danger small" role="alert">
          {error}
        </p>
      )}
    </Card>
  )
}

/** `#/compare`: the comparisons, and making one (a file on several models, or jobs that exist). */
function CompareHome(): React.JSX.Element {
  const refresh = useComparisonsStore((s) => s.refresh)
  useEffect(() => void refresh(), [refresh])
  return (
    <main className="grid" data-testid="compare-home">
      <ComparisonList />
      <NewBatchSection compare />
      <CompareJobs />
    </main>
  )
}

/** Inputs whose keys are text; a checkbox (Differences only) or a button keeps the comparison's keys. */
const TEXT_INPUTS = new Set(['text', 'search', 'email', 'number', 'password', 'tel', 'url'])

const typing = (target: EventTarget | null): boolean =>
  target instanceof HTMLElement &&
  (target.isContentEditable ||
    ['TEXTAREA', 'SELECT'].includes(target.tagName) ||
    (target instanceof HTMLInputElement && TEXT_INPUTS.has(target.type)))

/** The comparison's keys (1–4, t, b, j/k, n) anywhere in the window, except while typing in a field. */
function useCompareKeys(): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.defaultPrevented || typing(e.target)) return
      const s = useCompareStore.getState()
      if (s.note) return // the note's own keys (Esc, Ctrl+Enter)
      const action = compareKeyAction(e, s.comparison?.models ?? [])
      if (!action) return
      e.preventDefault()
      if (action.kind === 'vote') void s.vote(action.winner)
      else if (action.kind === 'move') s.move(action.delta)
      else s.openNote()
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])
}

/**
 * The address follows where the comparison stands (search, differences only, page, current row), replacing the
 * current entry; an address opened, reloaded or typed puts the comparison there.
 */
function useAddress(id: string, params: CompareViewParams | undefined): void {
  const open = useCompareStore((s) => s.open)
  const close = useCompareStore((s) => s.close)
  const replace = useRouteStore((s) => s.replace)
  useEffect(() => close, [id, close])
  useEffect(() => open(id, params), [id, params, open])
  // Compared field by field: the effect runs when where the comparison stands changes, not on each refresh.
  const shown = useCompareStore((s) => s.comparisonId === id)
  const standing = useCompareStore(useShallow(compareViewParams))
  useEffect(() => {
    const route = useRouteStore.getState().route
    if (shown && route.view === 'compare' && route.comparisonId === id) replace(compareRoute(id, standing))
  }, [id, shown, standing, replace])
}

/** `#/compare/<id>`: the per-model figures, the rows side by side with the word diff, keyboard voting, exports. */
function ComparisonView(props: { id: string; params?: CompareViewParams }): React.JSX.Element {
  useAddress(props.id, props.params)
  useCompareKeys()
  return (
    <main className="grid" data-testid="comparison-view">
      <ComparisonFigures />
      <ComparisonRows />
    </main>
  )
}

export function CompareView(props: { comparisonId: string | null; params?: CompareViewParams }): React.JSX.Element {
  return props.comparisonId ? <ComparisonView id={props.comparisonId} params={props.params} /> : <CompareHome />
}
