import type { Database, Statement } from 'better-sqlite3'

export interface WebhookEndpointRow {
  id: string
  url: string
  /** JSON array of event types. */
  events: string
  secret: string
  created_at: number
}

export interface WebhookDeliveryRow {
  seq: number
  id: string
  event: string
  batch_id: string
  url: string
  endpoint_id: string | null
  payload: string
  state: 'pending' | 'delivered' | 'dead'
  attempts: number
  next_attempt_at: number | null
  created_at: number
  /** When the retry window began: the event, or the last redeliver. */
  window_start: number
  delivered_at: number | null
  last_error: string | null
}

export type NewDelivery = Pick<WebhookDeliveryRow, 'id' | 'event' | 'batch_id' | 'url' | 'endpoint_id' | 'payload' | 'created_at'>

/** The webhooks' endpoints and their outbox (migration 0008). */
export class WebhooksRepo {
  private readonly s: {
    insertEndpoint: Statement<WebhookEndpointRow>
    endpoints: Statement<[], WebhookEndpointRow>
    deleteEndpoint: Statement<[string]>
    insertDelivery: Statement<NewDelivery & { window_start: number }>
    due: Statement<[number, number], WebhookDeliveryRow>
    get: Statement<[string], WebhookDeliveryRow>
    delivered: Statement<[number, number, string]>
    failed: Statement<[number, number | null, string, string, string]>
    redeliver: Statement<[number, number, string]>
    prune: Statement<[number]>
    page: Statement<{ state: string | null; batch: string | null; offset: number; limit: number }, WebhookDeliveryRow>
  }

  constructor(private readonly db: Database) {
    this.s = {
      insertEndpoint: db.prepare('INSERT INTO webhook_endpoints (id, url, events, secret, created_at) VALUES (@id, @url, @events, @secret, @created_at)'),
      endpoints: db.prepare('SELECT id, url, events, secret, created_at FROM webhook_endpoints ORDER BY seq'),
      deleteEndpoint: db.prepare('DELETE FROM webhook_endpoints WHERE id = ?'),
      insertDelivery: db.prepare(
        `INSERT INTO webhook_deliveries (id, event, batch_id, url, endpoint_id, payload, state, attempts, next_attempt_at, created_at, window_start)
         VALUES (@id, @event, @batch_id, @url, @endpoint_id, @payload, 'pending', 0, @created_at, @created_at, @window_start)`,
      ),
      due: db.prepare("SELECT * FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, seq LIMIT ?"),
      get: db.prepare('SELECT * FROM webhook_deliveries WHERE id = ?'),
      delivered: db.prepare("UPDATE webhook_deliveries SET state = 'delivered', delivered_at = ?, attempts = ?, next_attempt_at = NULL, last_error = NULL WHERE id = ? AND state = 'pending'"),
      failed: db.prepare("UPDATE webhook_deliveries SET attempts = ?, next_attempt_at = ?, last_error = ?, state = ? WHERE id = ? AND state = 'pending'"),
      redeliver: db.prepare("UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?, window_start = ?, last_error = NULL WHERE id = ? AND state = 'dead'"),
      prune: db.prepare("DELETE FROM webhook_deliveries WHERE state = 'delivered' AND delivered_at < ?"),
      page: db.prepare('SELECT * FROM webhook_deliveries WHERE (@state IS NULL OR state = @state) AND (@batch IS NULL OR batch_id = @batch) ORDER BY seq DESC LIMIT @limit OFFSET @offset'),
    }
  }

  insertEndpoint(row: WebhookEndpointRow): void {
    this.s.insertEndpoint.run(row)
  }

  endpoints(): WebhookEndpointRow[] {
    return this.s.endpoints.all()
  }

  deleteEndpoint(id: string): boolean {
    return this.s.deleteEndpoint.run(id).changes > 0
  }

  /** Puts messages in the outbox (in the caller's transaction when there is one). */
  enqueue(rows: readonly NewDelivery[]): void {
    for (const r of rows) this.s.insertDelivery.run({ ...r, window_start: r.created_at })
  }

  due(now: number, limit: number): WebhookDeliveryRow[] {
    return this.s.due.all(now, limit)
  }

  get(id: string): WebhookDeliveryRow | undefined {
    return this.s.get.get(id)
  }

  /** Marks a pending message delivered; false when it was not pending (so it is never marked twice). */
  markDelivered(id: string, at: number, attempts: number): boolean {
    return this.s.delivered.run(at, attempts, id).changes > 0
  }

  /** Records a failed attempt: tried again at `next`, or dead (next null). */
  markFailed(id: string, attempts: number, next: number | null, error: string): void {
    this.s.failed.run(attempts, next, error.slice(0, 500), next === null ? 'dead' : 'pending', id)
  }

  /** A dead message goes back to pending, due now, with a fresh retry window; false when it was not dead. */
  redeliver(id: string, now: number): boolean {
    return this.s.redeliver.run(now, now, id).changes > 0
  }

  /** Forgets messages delivered before `before` (epoch ms); returns how many. */
  pruneDelivered(before: number): number {
    return this.s.prune.run(before).changes
  }

  page(filter: { state?: string; batchId?: string }, offset: number, limit: number): WebhookDeliveryRow[] {
    return this.s.page.all({ state: filter.state ?? null, batch: filter.batchId ?? null, offset, limit })
  }
}
