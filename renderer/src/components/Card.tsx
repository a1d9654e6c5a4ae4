import type React from 'react'

/**
 * A titled card of the dashboard: the section (labelled by its heading, found by tests as `data-testid={id}`),
 * its head (the title, then whatever the card shows beside it) and its body.
 */
export function Card(props: { id: string; title: string; wide?: boolean; head?: React.ReactNode; children: React.ReactNode }): React.JSX.Element {
  return (
    <section className={props.wide ? 'card wide' : 'card'} aria-labelledby={`${props.id}-title`} data-testid={props.id}>
      <header className="card-head">
        <h2 id={`${props.id}-title`}>{props.title}</h2>
        {props.head}
      </header>
      {props.children}
    </section>
  )
}
