import { formatCount, formatEpochSeconds, formatPercent, formatRate } from '../format'
import { formatHash } from '../route'
import { useCompareStore } from '../store/compare'
import type { ComparisonArm, ExportFormat } from '../types'
import { Card } from './Card'
import { StatusPill, TERMINAL } from './job-facts'
import { ProgressBar } from './ProgressBar'

const EXPORTS: { format: ExportFormat; label: string; title: string }[] = [
  { format: 'csv', label: 'CSV', title: 'Every row with each answer, the vote and the note' },
  { format: 'jsonl', label: 'JSONL', title: 'Every row with each answer, the vote and the note, one JSON object a line' },
  { format: 'preference', label: 'Preference pairs', title: 'prompt, chosen, rejected: for preference tuning (voted rows)' },
  { format: 'finetune', label: 'Fine-tuning JSONL', title: 'OpenAI chat fine-tuning lines from the winning answers' },
]

const ms = (v: number | null): string => (v === null ? '–' : `${formatCount(v)} ms`)
const share = (v: number | null): string => (v === null ? '–' : formatPercent(v))

function ArmRow(props: { arm: ComparisonArm; index: number }): React.JSX.Element {
  const a = props.arm
  const done = a.completed + a.failed
  const live = a.progress && (a.status === 'in_progress' || a.status === 'finalizing') ? a.progress : null
  const counted = live ? live.completed + live.failed : done
  const total = live?.total ?? a.total
  return (
    <tr data-testid={`arm-${a.model}`}>
      <td>
        <kbd>{props.index + 1}</kbd> <strong>{a.model}</strong>
      </td>
      <td>
        <a href={formatHash({ view: 'job', batchId: a.batch_id })}>
          <code>{a.batch_id}</code>
        </a>{' '}
        <StatusPill status={a.status} />
        {live?.hold && <div className="job-detail small">{live.hold.detail}</div>}
      </td>
      <td className="arm-progress">
        <ProgressBar
          value={total > 0 ? counted / total : a.status === 'completed' ? 1 : 0}
          label={`Progress of ${a.model}`}
          text={`${formatCount(counted)} of ${formatCount(total)}`}
          tone={a.status === 'failed' ? 'danger' : TERMINAL.includes(a.status) ? 'ok' : undefined}
        />
        <span className="small">
          {formatCount(counted)} / {formatCount(total)}
          {a.failed > 0 && <span className="danger-text"> · {formatCount(a.failed)} failed</span>}
        </span>
      </td>
      <td className="num">{ms(a.mean_latency_ms)}</td>
      <td className="num">{ms(a.p95_latency_ms)}</td>
      <td className="num">{a.tokens_per_second === null ? '–' : formatRate(a.tokens_per_second)}</td>
      <td className="num">{a.mean_output_tokens === null ? '–' : formatRate(a.mean_output_tokens)}</td>
      <td className="num">
        {share(a.agreement.exact)} / {share(a.agreement.normalized)}
      </td>
      <td className="num">{formatCount(a.wins)}</td>
      <td className="num" data-testid="win-rate">
        {a.win_rate === null ? '–' : formatPercent(a.win_rate)}
        {a.win_rate_interval && (
          <span className="muted small">
            {' '}
            ({formatPercent(a.win_rate_interval[0])}–{formatPercent(a.win_rate_interval[1])})
          </span>
        )}
      </td>
    </tr>
  )
}

/** The comparison's per-model figures (progress, latency, tokens/s, agreement, wins with their interval) and its exports. */
export function ComparisonFigures(): React.JSX.Element {
  const comparison = useCompareStore((s) => s.comparison)
  const id = useCompareStore((s) => s.comparisonId)
  const error = useCompareStore((s) => s.loadError)
  const exporting = useCompareStore((s) => s.exporting)
  const exportError = useCompareStore((s) => s.exportError)
  const exportAs = useCompareStore((s) => s.exportAs)
  if (!comparison) {
    return (
      <Card id="comparison" title={`Comparison ${id ?? ''}`} wide>
        {error ? <p className="callout callout-danger">Could not read the comparison: {error}</p> : <p className="muted">Loading…</p>}
      </Card>
    )
  }
  const v = comparison.votes
  return (
    <Card
      id="comparison"
      title={comparison.name ?? `Comparison ${comparison.id}`}
      wide
      head={
        <>
          <code className="muted small">{comparison.id}</code>
          <span className="muted small">
            {formatCount(comparison.rows)} rows · {formatEpochSeconds(comparison.created_at)}
          </span>
        </>
      }
    >
      <div className="table-wrap">
        <table data-testid="comparison-figures">
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col">Batch</th>
              <th scope="col">Progress</th>
              <th scope="col" title="Mean latency of a request">
                Mean latency
              </th>
              <th scope="col">p95 latency</th>
              <th scope="col" title="Output tokens per second of the batch's wall time">
                Tokens/s
              </th>
              <th scope="col">Mean output tokens</th>
              <th scope="col" title="Share of rows where its answer matches the others': exactly / once case, punctuation and spacing are set aside">
                Agreement exact / normalised
              </th>
              <th scope="col">Wins</th>
              <th scope="col" title="Share of all votes, with its 95% (Wilson) interval">
                Win rate (95%)
              </th>
            </tr>
          </thead>
          <tbody>
            {comparison.arms.map((a, i) => (
              <ArmRow key={a.batch_id} arm={a} index={i} />
            ))}
          </tbody>
        </table>
      </div>
      <p className="small" data-testid="vote-totals">
        {formatCount(v.total)} {v.total === 1 ? 'vote' : 'votes'} · {formatCount(v.tie)} tie · {formatCount(v.both_bad)} both bad
      </p>
      <div className="row" data-testid="exports">
        <span className="muted small">Export:</span>
        {EXPORTS.map((e) => (
          <button key={e.format} type="button" title={e.title} disabled={exporting !== null} onClick={() => void exportAs(e.format)}>
            {exporting === e.format ? 'Downloading…' : e.label}
          </button>
        ))}
      </div>
      {exportError && (
        <p className="callout callout-danger small" role="alert">
          {exportError}
        </p>
      )}
    </Card>
  )
}
