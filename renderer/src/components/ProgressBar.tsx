/** A horizontal bar for a fraction from 0 to 1, announced as a progressbar. */
export function ProgressBar(props: { value: number; label: string; tone?: 'ok' | 'warn' | 'danger'; testId?: string; text?: string }): React.JSX.Element {
  const pct = Math.max(0, Math.min(1, Number.isFinite(props.value) ? props.value : 0)) * 100
  return (
    <div
      className={`bar${props.tone ? ` bar-${props.tone}` : ''}`}
      role="progressbar"
      aria-label={props.label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(pct)}
      aria-valuetext={props.text}
      data-testid={props.testId}
    >
      <div className="bar-fill" style={{ width: `${pct}%` }} />
    </div>
  )
}
