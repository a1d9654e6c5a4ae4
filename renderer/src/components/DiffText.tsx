import type { DiffPart } from '../word-diff'

/** An answer with the words the diff marks: `<del>` only in the other answer's baseline, `<ins>` only in this one. */
export function DiffText(props: { parts: DiffPart[] }): React.JSX.Element {
  return (
    <span className="wrap diff">
      {props.parts.map((p, i) =>
        p.kind === 'same' ? (
          <span key={i}>{p.text}</span>
        ) : p.kind === 'removed' ? (
          <del key={i} title="not in the other answer">
            {p.text}
          </del>
        ) : (
          <ins key={i} title="not in the first answer">
            {p.text}
          </ins>
        ),
      )}
    </span>
  )
}
