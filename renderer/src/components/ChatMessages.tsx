import type { Prompt } from '../request-content'

/** A request's prompt: chat messages as a conversation (one bubble a message, by role), or the prompt's text. */
export function ChatMessages(props: { prompt: Prompt; compact?: boolean }): React.JSX.Element {
  const { prompt } = props
  if (prompt.kind === 'none') return <p className="muted small">The request is not available (its input file was deleted).</p>
  if (prompt.kind === 'text') return <pre className="prompt-text">{prompt.text}</pre>
  return (
    <ol className={props.compact ? 'chat compact' : 'chat'} data-testid="chat">
      {prompt.messages.map((m, i) => (
        <li key={i} className={`bubble bubble-${m.role}`} data-role={m.role}>
          <span className="bubble-role">{m.role}</span>
          <span className="wrap">{m.text}</span>
        </li>
      ))}
    </ol>
  )
}
