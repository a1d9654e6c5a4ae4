import { useEffect, useState } from 'react'
import { useShallow } from 'zustand/react/shallow'
import { Card } from '../components/Card'
import { ComparisonFigures } from '../components/ComparisonFigures'
import { ComparisonRows } from '../components/ComparisonRows'
import { StatusPill } from '../components/job-facts'
import { NewBatchSection } from '../components/NewBatchSection'
import { MAX_MODELS, MIN_MODELS } from '../components/RunOnModels'
import { compareKeyAction } from '../compare-keys'
import { formatCount, formatEpochSeconds } from '../format'
import { compareRoute, formatHash, type CompareViewParams } from '../route'
import { compareViewParams, useCompareStore } from '../store/compare'
import { useComparisonsStore } from '../store/comparisons'
import { useQueueStore } from '../store/queue'
import { useRouteStore } from '../store/route'

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

/** Compare jobs that exist: any of different models that share custom_ids (the same file run on each). */
function CompareJobs(): React.JSX.Element {
  const order = useQueueStore((s) => s.order)
  const jobs = useQueueStore((s) => s.jobs)
  const creating = useComparisonsStore((s) => s.creating)
  const error = useComparisonsStore((s) => s.createError)
  const createFromJobs = useComparisonsStore((s) => s.createFromJobs)
  const navigate = useRouteStore((s) => s.navigate)
  const [chosen, setChosen] = useState<string[]>([])
  const candidates = order.map((id) => jobs[id]).filter((j) => j && j.model !== null && j.request_counts.total > 0)
  const picked = candidates.filter((j) => chosen.includes(j.id))
  const models = new Set(picked.map((j) => j.model))
  const sameModel = models.size < picked.length
  const toggle = (id: string): void => setChosen((c) => (c.includes(id) ? c.filter((x) => x !== id) : [...c, id]))
  const run = async (): Promise<void> => {
    const id = await createFromJobs(picked.map((j) => j.id))
    if (id) navigate({ view: 'compare', comparisonId: id })
  }
  return (
    <Card id="compare-jobs" title="Compare existing jobs" wide>
      <p className="muted small">
        Pick {MIN_MODELS} to {MAX_MODELS} jobs of different models that ran the same requests (they are matched by custom_id).
      </p>
      {candidates.length === 0 ? (
        <p className="muted">No jobs with requests yet.</p>
      ) : (
        <ul className="job-picker">
          {candidates.map((j) => (
            <li key={j.id}>
              <label className="check">
                <input
                  type="checkbox"
                  checked={chosen.includes(j.id)}
                  disabled={creating || (!chosen.includes(j.id) && chosen.length >= MAX_MODELS)}
                  onChange={() => toggle(j.id)}
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

const typing = (target: EventTarget | null): boolean =>
  target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))

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
