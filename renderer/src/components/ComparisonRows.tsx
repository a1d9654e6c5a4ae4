import { useEffect, useMemo, useRef } from 'react'
import { winnerLabel } from '../compare-keys'
import { formatCount } from '../format'
import { promptOf } from '../request-content'
import { useCompareStore } from '../store/compare'
import type { ArmAnswer, ComparisonRow } from '../types'
import { diffSides, wordDiff, type DiffPart } from '../word-diff'
import { Card } from './Card'
import { ChatMessages } from './ChatMessages'
import { DiffText } from './DiffText'
import { Pager } from './Pager'
import { SearchBox } from './SearchBox'

const answered = (a: ArmAnswer | null | undefined): a is ArmAnswer & { text: string } => a?.state === 'succeeded' && typeof a.text === 'string'

/**
 * The marks of each answer: with two models, the first shows what only it says and the second what only it says;
 * with more, each answer after the first shows what it adds to the first. Null where an answer is not there to compare.
 */
export function answerMarks(models: readonly string[], answers: ComparisonRow['answers']): (DiffPart[] | null)[] {
  const base = answers[models[0]]
  return models.map((m, i) => {
    const a = answers[m]
    if (!answered(a) || !answered(base)) return null
    if (models.length === 2) {
      const other = answers[models[1 - i]]
      if (!answered(other)) return null
      return i === 0 ? diffSides(a.text, other.text).before : diffSides(base.text, a.text).after
    }
    if (i === 0) return [{ kind: 'same', text: a.text }]
    return wordDiff(base.text, a.text).filter((p) => p.kind !== 'removed')
  })
}

function Answer(props: { model: string; index: number; answer: ArmAnswer | null | undefined; marks: DiffPart[] | null }): React.JSX.Element {
  const a = props.answer
  return (
    <div className="answer-col" data-testid={`answer-${props.model}`}>
      <header className="answer-head small">
        <kbd>{props.index + 1}</kbd> <strong>{props.model}</strong>
        {a && a.latency_ms !== null && <span className="muted"> · {formatCount(a.latency_ms)} ms</span>}
        {a && a.output_tokens !== null && <span className="muted"> · {formatCount(a.output_tokens)} tokens</span>}
      </header>
      {!a ? (
        <p className="muted small">This batch has no request with this custom_id.</p>
      ) : a.state === 'pending' ? (
        <p className="muted small">Pending: fills in when the answer is committed.</p>
      ) : a.state === 'failed' ? (
        <p className="danger-text small wrap">{a.text ?? 'failed'}</p>
      ) : props.marks ? (
        <DiffText parts={props.marks} />
      ) : (
        <span className="wrap">{a.text}</span>
      )}
    </div>
  )
}

function NoteEditor(props: { models: string[] }): React.JSX.Element | null {
  const note = useCompareStore((s) => s.note)
  const sending = useCompareStore((s) => (s.note ? s.sending[s.note.customId] === true : false))
  const editNote = useCompareStore((s) => s.editNote)
  const saveNote = useCompareStore((s) => s.saveNote)
  const closeNote = useCompareStore((s) => s.closeNote)
  const area = useRef<HTMLTextAreaElement>(null)
  useEffect(() => area.current?.focus(), [])
  if (!note) return null
  return (
    <form
      className="note-editor"
      data-testid="note-editor"
      onSubmit={(e) => {
        e.preventDefault()
        void saveNote()
      }}
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.preventDefault()
          closeNote()
        } else if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
          e.preventDefault()
          void saveNote()
        }
      }}
    >
      <label className="field">
        <span className="small">Note on {note.customId}</span>
        <textarea ref={area} rows={3} value={note.text} onChange={(e) => editNote({ text: e.target.value })} aria-label="Note" />
      </label>
      <div className="row">
        <label className="field inline small">
          Vote
          <select value={note.winner} onChange={(e) => editNote({ winner: e.target.value })} aria-label="Vote saved with the note">
            <option value="">choose…</option>
            {[...props.models, 'tie', 'both_bad'].map((w) => (
              <option key={w} value={w}>
                {winnerLabel(w)}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary" disabled={note.winner === '' || sending}>
          Save note
        </button>
        <button type="button" onClick={closeNote}>
          Cancel
        </button>
        <span className="muted small">Ctrl+Enter saves, Esc cancels. A note is kept with the row's vote.</span>
      </div>
    </form>
  )
}

function Row(props: { row: ComparisonRow; index: number; models: string[] }): React.JSX.Element {
  const { row, index, models } = props
  const current = useCompareStore((s) => s.cursor === index)
  const sending = useCompareStore((s) => s.sending[row.custom_id] === true)
  const noteHere = useCompareStore((s) => s.note?.customId === row.custom_id)
  const setCursor = useCompareStore((s) => s.setCursor)
  const vote = useCompareStore((s) => s.vote)
  const openNote = useCompareStore((s) => s.openNote)
  const marks = useMemo(() => answerMarks(models, row.answers), [models, row.answers])
  const prompt = useMemo(() => promptOf(row.prompt), [row.prompt])
  const ref = useRef<HTMLLIElement>(null)
  useEffect(() => {
    if (current) ref.current?.scrollIntoView?.({ block: 'nearest' })
  }, [current])
  return (
    <li
      ref={ref}
      className={`cmp-row${current ? ' current' : ''}`}
      aria-current={current ? 'true' : undefined}
      data-testid={`row-${row.custom_id}`}
      onClick={() => setCursor(index)}
    >
      <div className="cmp-row-head small">
        <span className="muted">line {formatCount(row.line)}</span>
        <code>{row.custom_id}</code>
        {row.differs && <span className="pill pill-warn">differs</span>}
        {row.vote && (
          <span className="pill pill-ok" data-testid="row-vote">
            vote: {winnerLabel(row.vote.winner)}
          </span>
        )}
        {row.vote?.note && <span className="muted" title={row.vote.note}>note: {row.vote.note}</span>}
        {sending && <span className="muted">saving…</span>}
      </div>
      <ChatMessages prompt={prompt} compact />
      <div className="answers" style={{ gridTemplateColumns: `repeat(${models.length}, minmax(0, 1fr))` }}>
        {models.map((m, i) => (
          <Answer key={m} model={m} index={i} answer={row.answers[m]} marks={marks[i]} />
        ))}
      </div>
      <div className="vote-buttons row small">
        {models.map((m, i) => (
          <button key={m} type="button" aria-pressed={row.vote?.winner === m} onClick={() => void vote(m, row.custom_id)}>
            <kbd>{i + 1}</kbd> {m}
          </button>
        ))}
        <button type="button" aria-pressed={row.vote?.winner === 'tie'} onClick={() => void vote('tie', row.custom_id)}>
          <kbd>t</kbd> tie
        </button>
        <button type="button" aria-pressed={row.vote?.winner === 'both_bad'} onClick={() => void vote('both_bad', row.custom_id)}>
          <kbd>b</kbd> both bad
        </button>
        <button type="button" onClick={() => openNote(row.custom_id)}>
          <kbd>n</kbd> note
        </button>
      </div>
      {noteHere && <NoteEditor models={models} />}
    </li>
  )
}

/** The comparison's rows, aligned by custom_id, a page at a time: the prompt once, each model's answer with the diff marks. */
export function ComparisonRows(): React.JSX.Element {
  const comparisonId = useCompareStore((s) => s.comparisonId)
  const models = useCompareStore((s) => s.comparison?.models)
  const rows = useCompareStore((s) => s.rows)
  const query = useCompareStore((s) => s.query)
  const loading = useCompareStore((s) => s.loading)
  const error = useCompareStore((s) => s.rowsError)
  const voteError = useCompareStore((s) => s.voteError)
  const setSearch = useCompareStore((s) => s.setSearch)
  const setDifferences = useCompareStore((s) => s.setDifferences)
  const setOffset = useCompareStore((s) => s.setOffset)
  const shown = models ?? (rows?.data[0] ? Object.keys(rows.data[0].answers) : [])
  return (
    <Card id="comparison-rows" title="Answers side by side" wide head={loading ? <span className="muted small">Loading…</span> : undefined}>
      <div className="row toolbar">
        <SearchBox key={comparisonId} value={query.q} onSearch={setSearch} label="Search the prompts and answers" placeholder="Search prompts and answers…" testId="rows-search" />
        <label className="check small">
          <input type="checkbox" checked={query.differences} onChange={(e) => setDifferences(e.target.checked)} />
          Differences only
        </label>
        <span className="spacer" />
        <span className="muted small keys" data-testid="key-legend">
          Keys: {shown.map((m, i) => `${i + 1} ${m}`).join(', ')}, t tie, b both bad, j/k next/previous, n note
        </span>
      </div>
      {error && (
        <p className="callout callout-danger" role="alert">
          Could not read the rows: {error}
        </p>
      )}
      {voteError && (
        <p className="callout callout-danger small" role="alert">
          {voteError}
        </p>
      )}
      {rows && rows.data.length === 0 && (
        <p className="empty" data-testid="rows-empty">
          {query.differences || query.q ? 'No row matches.' : 'No rows yet.'}
        </p>
      )}
      {rows && rows.data.length > 0 && (
        <ol className="cmp-rows" aria-busy={loading}>
          {rows.data.map((row, i) => (
            <Row key={row.custom_id} row={row} index={i} models={shown} />
          ))}
        </ol>
      )}
      {rows && <Pager offset={query.offset} limit={query.limit} count={rows.data.length} total={rows.total} hasMore={rows.has_more} onOffset={setOffset} noun="Rows" />}
    </Card>
  )
}
