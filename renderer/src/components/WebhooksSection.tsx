import { useEffect, useId, useState } from 'react'
import { WEBHOOK_EVENTS, DEFAULT_WEBHOOK_EVENTS, type WebhookEventType } from '../../../main/contract/webhooks'
import { useWebhooksStore } from '../store/webhooks'
import { Card } from './Card'

const when = (ms: number): string => new Date(ms).toLocaleString()

/**
 * Settings: the webhook receivers called for every batch (added with their events; the signing secret is shown
 * once, when added) and the deliveries that gave up (dead letters), each with Redeliver.
 */
export function WebhooksSection(): React.JSX.Element {
  const endpoints = useWebhooksStore((s) => s.endpoints)
  const dead = useWebhooksStore((s) => s.dead)
  const loadError = useWebhooksStore((s) => s.loadError)
  const created = useWebhooksStore((s) => s.created)
  const addError = useWebhooksStore((s) => s.addError)
  const adding = useWebhooksStore((s) => s.adding)
  const redelivering = useWebhooksStore((s) => s.redelivering)
  const actionError = useWebhooksStore((s) => s.actionError)
  const origin = useWebhooksStore((s) => s.metadataSecretOrigin)
  const { refresh, add, remove, redeliver, dismissSecret } = useWebhooksStore.getState()
  const [url, setUrl] = useState('')
  const [events, setEvents] = useState<WebhookEventType[]>([...DEFAULT_WEBHOOK_EVENTS])
  const id = useId()

  useEffect(() => {
    void refresh()
  }, [refresh])

  const toggle = (e: WebhookEventType): void => setEvents((list) => (list.includes(e) ? list.filter((x) => x !== e) : [...list, e]))

  return (
    <Card id="webhooks" title="Webhooks" wide>
      {loadError && <p role="alert" className="field-error">{loadError}</p>}
      <p className="muted small">
        Called when a batch ends (and, if chosen, on its progress, at most once a minute), signed as Standard Webhooks
        do. A batch can name its own URL in its metadata (<code>webhook_url</code>); those are signed with the secret
        from {origin ?? 'VBS_WEBHOOK_SECRET'}.
      </p>
      {endpoints.length > 0 && (
        <ul data-testid="webhook-endpoints">
          {endpoints.map((e) => (
            <li key={e.id}>
              <code>{e.url}</code> <span className="muted small">{e.events.join(', ')}</span>{' '}
              <button type="button" className="danger" onClick={() => void remove(e.id)}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form
        onSubmit={(ev) => {
          ev.preventDefault()
          void add(url.trim(), events).then((ok) => ok && setUrl(''))
        }}
      >
        <label htmlFor={`${id}-url`}>Receiver URL</label>
        <div className="row">
          <input id={`${id}-url`} type="url" value={url} placeholder="http://host:port/hook" onChange={(e) => setUrl(e.target.value)} aria-invalid={addError ? true : undefined} />
          <button type="submit" className="primary" disabled={adding || url.trim() === '' || events.length === 0}>
            Add webhook
          </button>
        </div>
        <fieldset>
          <legend className="muted small">Events</legend>
          {WEBHOOK_EVENTS.map((e) => (
            <label key={e} className="small">
              <input type="checkbox" checked={events.includes(e)} onChange={() => toggle(e)} /> {e}
            </label>
          ))}
        </fieldset>
        {addError && <p role="alert" className="field-error">{addError}</p>}
      </form>
      {created && (
        <div data-testid="webhook-secret" role="status">
          <p>
            Signing secret for <code>{created.url}</code>, shown this once: <code>{created.secret}</code>
          </p>
          <button type="button" onClick={dismissSecret}>
            I have saved it
          </button>
        </div>
      )}
      <h3>Dead letters</h3>
      {actionError && <p role="alert" className="field-error">{actionError}</p>}
      {dead.length === 0 ? (
        <p className="muted small">None: every webhook was delivered or is still being tried.</p>
      ) : (
        <table data-testid="webhook-dead">
          <caption>Deliveries that gave up ({dead.length})</caption>
          <thead>
            <tr>
              <th>Event</th>
              <th>Batch</th>
              <th>URL</th>
              <th>Attempts</th>
              <th>Last error</th>
              <th>Event at</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {dead.map((d) => (
              <tr key={d.id}>
                <td>{d.event}</td>
                <td>
                  <a href={`#/jobs/${encodeURIComponent(d.batch_id)}`}>{d.batch_id}</a>
                </td>
                <td>
                  <code>{d.url}</code>
                </td>
                <td>{d.attempts}</td>
                <td>{d.last_error ?? ''}</td>
                <td>{when(d.created_at)}</td>
                <td>
                  <button type="button" disabled={redelivering.includes(d.id)} onClick={() => void redeliver(d.id)}>
                    Redeliver
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  )
}
