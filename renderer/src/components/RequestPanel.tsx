import { useEffect } from 'react'
import { formatCount, formatEpochSeconds } from '../format'
import { answerOf, promptOf, requestModel } from '../request-content'
import { useJobViewStore } from '../store/job-view'
import type { ResultDetail } from '../types'
import { ChatMessages } from './ChatMessages'

const STATE_TONE = { succeeded: 'pill-ok', failed: 'pill-danger', pending: 'pill-info' } as const

const json = (v: unknown): string => JSON.stringify(v, null, 2)

function Detail(props: { detail: ResultDetail; model: string | null }): React.JSX.Element {
  const d = props.detail
  const answer = answerOf(d.response?.body)
  // A comparison replaces the file's model with each of its own: say both when they differ.
  const asked = requestModel(d.request)
  const model = props.model ?? asked
  return (
    <>
      <dl className="facts small" data-testid="request-usage">
        <dt>State</dt>
        <dd>
          <span className={`pill ${STATE_TONE[d.state]}`}>{d.state}</span>
          {d.status_code !== null && <span className="muted"> HTTP {d.status_code}</span>}
        </dd>
        <dt>Line</dt>
        <dd>{formatCount(d.line)}</dd>
        {model && (
          <>
            <dt>Model</dt>
            <dd>
              {model}
              {asked && asked !== model && <span className="muted"> (the line names {asked})</span>}
            </dd>
          </>
        )}
        <dt>Tokens</dt>
        <dd>{d.usage ? `${formatCount(d.usage.input_tokens)} in, ${formatCount(d.usage.output_tokens)} out` : '–'}</dd>
        <dt>Latency</dt>
        <dd>{d.latency_ms !== null ? `${formatCount(d.latency_ms)} ms` : '–'}</dd>
        <dt>Finish reason</dt>
        <dd>{d.finish_reason ?? '–'}</dd>
        <dt>Attempts</dt>
        <dd>{formatCount(d.attempts)}</dd>
        {d.finished_at !== null && (
          <>
            <dt>Finished</dt>
            <dd>{formatEpochSeconds(d.finished_at / 1000)}</dd>
          </>
        )}
      </dl>
      <h3>Messages</h3>
      <ChatMessages prompt={promptOf(d.request)} />
      <h3>Answer</h3>
      {d.error && (
        <p className="callout callout-danger small" data-testid="request-error">
          {d.error.code && <code>{d.error.code}</code>} {d.error.message}
        </p>
      )}
      {answer.reasoning && (
        <details className="reasoning">
          <summary>Reasoning</summary>
          <pre>{answer.reasoning}</pre>
        </details>
      )}
      {answer.text !== null ? (
        <div className="bubble bubble-assistant answer" data-testid="request-answer">
          <span className="wrap">{answer.text}</span>
        </div>
      ) : (
        !d.error && <p className="muted small">{d.state === 'pending' ? 'Not answered yet: it fills in when the answer is committed.' : 'No answer.'}</p>
      )}
      <details className="raw" data-testid="request-raw">
        <summary>Raw JSON</summary>
        <h4>Request</h4>
        <pre>{json(d.request)}</pre>
        <h4>{d.response ? `Response (HTTP ${d.response.status_code})` : d.error ? 'Error' : 'Response'}</h4>
        <pre>{json(d.response ? d.response.body : d.error)}</pre>
      </details>
    </>
  )
}

/** One request of the job, in full, beside the table: the messages as a chat, the answer, usage, the raw JSON. */
export function RequestPanel(): React.JSX.Element | null {
  const selected = useJobViewStore((s) => s.selected)
  const detail = useJobViewStore((s) => s.detail)
  const error = useJobViewStore((s) => s.detailError)
  const select = useJobViewStore((s) => s.select)
  const model = useJobViewStore((s) => s.job?.model ?? null)
  useEffect(() => {
    if (selected === null) return
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape') select(null)
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [selected, select])
  if (selected === null) return null
  return (
    <aside className="side-panel" role="dialog" aria-labelledby="request-panel-title" data-testid="request-panel">
      <header className="card-head">
        <h2 id="request-panel-title">
          <code>{selected}</code>
        </h2>
        <span className="spacer" />
        <button type="button" onClick={() => select(null)} aria-label="Close the request">
          Close
        </button>
      </header>
      {error && (
        <p className="callout callout-danger small" role="alert">
          {error}
        </p>
      )}
      {!detail && !error && <p className="muted">Loading…</p>}
      {detail && detail.custom_id === selected && <Detail detail={detail} model={model} />}
    </aside>
  )
}
