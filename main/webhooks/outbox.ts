import crypto from 'node:crypto'
import dns from 'node:dns'
import fs from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import { ApiError, badRequest, notFound } from '../api-error'
import type { BatchObject, BatchStatus } from '../contract/batches'
import type { BatchProgress } from '../contract/jobs'
import {
  DEFAULT_WEBHOOK_EVENTS,
  WEBHOOK_EVENTS,
  WEBHOOK_EVENTS_METADATA,
  WEBHOOK_URL_METADATA,
  type WebhookDelivery,
  type WebhookDeliveryState,
  type WebhookEndpoint,
  type WebhookEndpointCreated,
  type WebhookEventType,
  type WebhookPayload,
} from '../contract/webhooks'
import type { Store } from '../store'
import type { ServiceEvents } from '../events'
import { toBatchObject } from '../store/batch-row'
import { echo } from '../contract/echo'
import type { NewDelivery, WebhookDeliveryRow, WebhookEndpointRow } from '../store/webhooks-repo'
import { newWebhookSecret, webhookHeaders } from './signature'
import { pointsAt, webhookUrlProblem, type SelfAddress } from './url-rules'

/**
 * Standard Webhooks' retry schedule: after the first failure 5 s, then 5 min, 30 min, 2 h, 5 h, 10 h, 10 h...;
 * the last attempt is made at the end of the window (VBS_WEBHOOK_MAX_AGE_HOURS after the event).
 */
export const RETRY_DELAYS_MS = [5_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 5 * 3_600_000, 10 * 3_600_000]
/** How often the outbox looks for messages that are due. */
const POLL_MS = 1000
/** Messages sent at once. */
const PARALLEL = 8
/** `batch.progress` goes to a URL at most this often per batch. */
const PROGRESS_EVERY_MS = 60_000
/**
 * Delivered messages (each holds its batch object) are kept this long for the record, then forgotten, looked
 * for at most once an hour; dead ones stay until redelivered.
 */
export const DELIVERED_KEPT_MS = 7 * 24 * 3_600_000
const PRUNE_EVERY_MS = 3_600_000

export interface OutboxDeps {
  store: Store
  log: Logger
  /** A delivery's end (delivered, dead) and a redelivery are announced (the dashboard's dead letters follow). */
  events: ServiceEvents
  dataDir: string
  /** VBS_WEBHOOK_SECRET, or null to use (and make) <data>/webhook-secret. */
  metadataSecret: string | null
  timeoutMs: number
  maxAgeHours: number
  /** The clock of the schedule (tests move it instead of waiting). */
  now?: () => number
  /** This service's port and names, once it listens (a webhook may not point at it). */
  self: () => SelfAddress | null
  /** The base URL of the links in payloads (the LAN address when the service serves the LAN). */
  publicUrl: () => string
}

const FINAL: Partial<Record<BatchStatus, WebhookEventType>> = {
  completed: 'batch.completed',
  failed: 'batch.failed',
  cancelled: 'batch.cancelled',
  expired: 'batch.expired',
}

/** `webhook_events` metadata or an endpoint's events: known names, or the problem. */
export function parseEvents(value: unknown, param: string): WebhookEventType[] {
  const list = typeof value === 'string' ? value.split(',').map((e) => e.trim()).filter(Boolean) : value
  if (!Array.isArray(list) || list.length === 0) throw badRequest(`Invalid '${param}': give one or more of ${WEBHOOK_EVENTS.join(', ')}.`, 'invalid_value', param)
  for (const e of list) {
    if (!(WEBHOOK_EVENTS as readonly unknown[]).includes(e)) {
      throw badRequest(`Invalid '${param}': ${JSON.stringify(String(e).slice(0, 60))} is not an event; give one or more of ${WEBHOOK_EVENTS.join(', ')}.`, 'invalid_value', param)
    }
  }
  return [...new Set(list as WebhookEventType[])]
}

/**
 * The webhooks' durable outbox. A batch's end is written to it in the transaction that ends the batch (so a
 * crash loses no event); a loop sends what is due, signed, one message per event and URL with a stable id;
 * a 2xx marks it delivered (then it is never sent again), anything else schedules the next attempt, and past
 * the window the message is dead until someone redelivers it.
 */
export class WebhookOutbox {
  private readonly now: () => number
  private timer: NodeJS.Timeout | null = null
  private readonly inFlight = new Map<string, Promise<void>>()
  private readonly lastProgress = new Map<string, number>()
  readonly metadataSecret: { secret: string; origin: string }
  private ticking: Promise<void> | null = null
  /** A pass was asked for while one ran: it looks once more before it ends. */
  private rerun = false
  private prunedAt = -Infinity

  constructor(private readonly d: OutboxDeps) {
    this.now = d.now ?? Date.now
    this.metadataSecret = loadMetadataSecret(d.dataDir, d.metadataSecret)
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), POLL_MS)
    this.timer.unref()
    void this.tick()
  }

  /** Stops sending; waits (bounded by the receivers' timeout) for the attempts under way to be recorded. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    await Promise.allSettled([...this.inFlight.values()])
  }

  /** Why a batch's metadata webhook is refused (checked when the batch is created), or nothing. */
  checkMetadata(metadata: unknown): void {
    if (typeof metadata !== 'object' || metadata === null) return
    const m = metadata as Record<string, unknown>
    if (typeof m[WEBHOOK_URL_METADATA] === 'string') {
      const problem = webhookUrlProblem(m[WEBHOOK_URL_METADATA], this.d.self())
      if (problem) throw badRequest(`Invalid 'metadata.${WEBHOOK_URL_METADATA}': ${problem}.`, 'invalid_value', `metadata.${WEBHOOK_URL_METADATA}`)
    }
    if (m[WEBHOOK_EVENTS_METADATA] !== undefined) parseEvents(m[WEBHOOK_EVENTS_METADATA], `metadata.${WEBHOOK_EVENTS_METADATA}`)
  }

  // --- endpoints (the settings' list) ---

  endpoints(): WebhookEndpoint[] {
    return this.d.store.webhooks.endpoints().map(endpointOf)
  }

  addEndpoint(body: Record<string, unknown>): WebhookEndpointCreated {
    if (typeof body.url !== 'string') throw badRequest("Missing required parameter: 'url'.", 'missing_required_parameter', 'url')
    const problem = webhookUrlProblem(body.url, this.d.self())
    if (problem) throw badRequest(`Invalid 'url': ${problem}.`, 'invalid_value', 'url')
    const events = body.events === undefined ? [...DEFAULT_WEBHOOK_EVENTS] : parseEvents(body.events, 'events')
    const row: WebhookEndpointRow = { id: `whep_${crypto.randomBytes(12).toString('hex')}`, url: body.url, events: JSON.stringify(events), secret: newWebhookSecret(), created_at: Math.floor(this.now() / 1000) }
    this.d.store.webhooks.insertEndpoint(row)
    this.d.log.info({ endpoint: row.id, url: row.url, events }, 'webhook endpoint added')
    return { ...endpointOf(row), secret: row.secret }
  }

  removeEndpoint(id: string): void {
    if (!this.d.store.webhooks.deleteEndpoint(id)) throw notFound(`No such webhook endpoint: ${echo(id)}`, 'id')
    this.d.log.info({ endpoint: id }, 'webhook endpoint removed')
  }

  // --- deliveries ---

  deliveries(filter: { state?: string; batchId?: string }, offset: number, limit: number): { data: WebhookDelivery[]; hasMore: boolean } {
    const rows = this.d.store.webhooks.page(filter, offset, limit + 1)
    return { data: rows.slice(0, limit).map(deliveryOf), hasMore: rows.length > limit }
  }

  /** A dead message is sent again now, with a fresh window of retries. */
  redeliver(id: string): WebhookDelivery {
    const row = this.d.store.webhooks.get(id)
    if (!row) throw notFound(`No such webhook delivery: ${echo(id)}`, 'id')
    if (!this.d.store.webhooks.redeliver(id, this.now())) {
      throw new ApiError(409, `Webhook delivery ${id} is ${row.state}; only a dead one can be redelivered.`, { code: 'delivery_not_dead', headers: { 'x-should-retry': 'false' } })
    }
    this.d.log.info({ delivery: id }, 'webhook redelivery requested')
    this.announce(row, 'pending')
    void this.tick()
    return deliveryOf(this.d.store.webhooks.get(id)!)
  }

  /** Called in the transaction of a batch's status change: the end of a batch is written to the outbox. */
  onTransition(batch: BatchObject, _from: BatchStatus, to: BatchStatus): void {
    const event = FINAL[to]
    if (!event) return
    for (const key of this.lastProgress.keys()) if (key.endsWith(`\n${batch.id}`)) this.lastProgress.delete(key)
    this.enqueue(batch, event)
    setImmediate(() => void this.tick())
  }

  /** A batch's progress, for the URLs that asked for it: at most once a minute per batch and URL. */
  onProgress(id: string, _progress: BatchProgress): void {
    const row = this.d.store.batches.get(id)
    if (!row || row.status !== 'in_progress') return
    const now = this.now()
    const batch = toBatchObject(row)
    const targets = this.targets(batch, 'batch.progress').filter((t) => {
      const key = `${t.url}\n${id}`
      if (now - (this.lastProgress.get(key) ?? -Infinity) < PROGRESS_EVERY_MS) return false
      this.lastProgress.set(key, now)
      return true
    })
    if (targets.length === 0) return
    this.d.store.webhooks.enqueue(targets.map((t) => this.message(batch, 'batch.progress', t)))
  }

  private enqueue(batch: BatchObject, event: WebhookEventType): void {
    const targets = this.targets(batch, event)
    if (targets.length > 0) this.d.store.webhooks.enqueue(targets.map((t) => this.message(batch, event, t)))
  }

  /** The URLs an event of this batch goes to: the configured endpoints, and the batch's own webhook_url. */
  private targets(batch: BatchObject, event: WebhookEventType): { url: string; endpointId: string | null }[] {
    const out: { url: string; endpointId: string | null }[] = []
    for (const e of this.d.store.webhooks.endpoints()) {
      if ((JSON.parse(e.events) as string[]).includes(event)) out.push({ url: e.url, endpointId: e.id })
    }
    const url = batch.metadata?.[WEBHOOK_URL_METADATA]
    if (url && webhookUrlProblem(url, null) === null) {
      let events: readonly WebhookEventType[] = DEFAULT_WEBHOOK_EVENTS
      try {
        if (batch.metadata?.[WEBHOOK_EVENTS_METADATA]) events = parseEvents(batch.metadata[WEBHOOK_EVENTS_METADATA], WEBHOOK_EVENTS_METADATA)
      } catch {
        // checked when the batch was created
      }
      if (events.includes(event)) out.push({ url, endpointId: null })
    }
    return out
  }

  private message(batch: BatchObject, event: WebhookEventType, target: { url: string; endpointId: string | null }): NewDelivery {
    const base = this.d.publicUrl()
    const content = (id: string | null): string | null => (id ? `${base}/v1/files/${id}/content` : null)
    const now = this.now()
    const payload: WebhookPayload = {
      type: event,
      timestamp: new Date(now).toISOString(),
      data: { batch, links: { batch: `${base}/v1/batches/${batch.id}`, output_file: content(batch.output_file_id), error_file: content(batch.error_file_id) } },
    }
    return { id: `msg_${crypto.randomBytes(12).toString('hex')}`, event, batch_id: batch.id, url: target.url, endpoint_id: target.endpointId, payload: JSON.stringify(payload), created_at: now }
  }

  /**
   * Sends every message that is due (each at most once at a time); resolves when those attempts are recorded.
   * The loop calls it every second; tests call it after moving the clock.
   */
  tick(): Promise<void> {
    if (this.ticking) {
      this.rerun = true
      return this.ticking
    }
    const pass = this.pass()
    this.ticking = pass
    // Cleared after the assignment above, even when the pass ended at once.
    void pass.finally(() => {
      if (this.ticking === pass) this.ticking = null
    })
    return pass
  }

  private async pass(): Promise<void> {
    try {
      const now = this.now()
      if (now - this.prunedAt >= PRUNE_EVERY_MS) {
        this.prunedAt = now
        const n = this.d.store.webhooks.pruneDelivered(now - DELIVERED_KEPT_MS)
        if (n > 0) this.d.log.info({ forgotten: n }, 'webhook outbox: delivered messages older than 7 days forgotten')
      }
      for (;;) {
        this.rerun = false
        const due = this.d.store.webhooks.due(this.now(), PARALLEL * 4).filter((r) => !this.inFlight.has(r.id))
        if (due.length === 0 && !this.rerun) return
        for (let i = 0; i < due.length; i += PARALLEL) {
          await Promise.all(due.slice(i, i + PARALLEL).map((r) => this.attempt(r)))
        }
      }
    } catch (err) {
      this.d.log.error({ err: (err as Error).message }, 'webhook outbox: a pass failed')
    }
  }

  private attempt(row: WebhookDeliveryRow): Promise<void> {
    const p = this.send(row).finally(() => this.inFlight.delete(row.id))
    this.inFlight.set(row.id, p)
    return p
  }

  private async send(row: WebhookDeliveryRow): Promise<void> {
    const attempts = row.attempts + 1
    let secret: string
    if (row.endpoint_id === null) {
      secret = this.metadataSecret.secret
    } else {
      const endpoint = this.d.store.webhooks.endpoints().find((e) => e.id === row.endpoint_id)
      if (!endpoint) {
        this.d.store.webhooks.markFailed(row.id, attempts, null, 'its endpoint was removed')
        this.announce(row, 'dead')
        return
      }
      secret = endpoint.secret
    }
    let error: string
    try {
      await this.refuseSelf(row.url)
      // The timestamp is the wall clock: receivers compare it with theirs.
      const headers = { ...webhookHeaders(secret, row.id, Math.floor(Date.now() / 1000), row.payload), 'user-agent': 'vllm-batch-server-webhooks' }
      const res = await fetch(row.url, { method: 'POST', headers, body: row.payload, redirect: 'manual', signal: AbortSignal.timeout(this.d.timeoutMs) })
      await res.arrayBuffer().catch(() => undefined)
      if (res.status >= 200 && res.status < 300) {
        this.d.store.webhooks.markDelivered(row.id, this.now(), attempts)
        this.announce(row, 'delivered')
        this.d.log.info({ delivery: row.id, event: row.event, batch: row.batch_id, url: row.url, attempts }, 'webhook delivered')
        return
      }
      error = `HTTP ${res.status}`
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } }
      error = e.name === 'TimeoutError' ? `timed out after ${this.d.timeoutMs} ms` : (e.cause?.code ?? e.message)
    }
    const next = this.nextAttempt(row, attempts)
    this.d.store.webhooks.markFailed(row.id, attempts, next, error)
    if (next === null) this.announce(row, 'dead')
    if (next === null) this.d.log.warn({ delivery: row.id, event: row.event, batch: row.batch_id, url: row.url, attempts, error }, 'webhook dead: not delivered within its window; it can be redelivered')
    else this.d.log.info({ delivery: row.id, url: row.url, attempts, error, next: new Date(next).toISOString() }, 'webhook not delivered; trying again later')
  }

  private announce(row: WebhookDeliveryRow, state: WebhookDeliveryState): void {
    this.d.events.emit('webhook.delivery', { id: row.id, event: row.event as WebhookEventType, batch_id: row.batch_id, state })
  }

  /** When to try again after `attempts` failures, or null when the window is over (the message is dead). */
  nextAttempt(row: Pick<WebhookDeliveryRow, 'window_start'>, attempts: number): number | null {
    const now = this.now()
    const end = row.window_start + this.d.maxAgeHours * 3_600_000
    if (now >= end) return null
    return Math.min(end, now + RETRY_DELAYS_MS[Math.min(attempts, RETRY_DELAYS_MS.length) - 1])
  }

  /** A name that resolves to this machine at this service's port is refused at delivery too. */
  private async refuseSelf(raw: string): Promise<void> {
    const self = this.d.self()
    if (!self) return
    const url = new URL(raw)
    let resolved: string[] = []
    try {
      resolved = (await dns.promises.lookup(url.hostname.replace(/^\[|\]$/g, ''), { all: true })).map((a) => a.address)
    } catch {
      // the fetch will say the name does not resolve
    }
    if (pointsAt(url, self, resolved)) throw new Error(`${url.host} is this service itself`)
  }
}

function endpointOf(r: WebhookEndpointRow): WebhookEndpoint {
  return { id: r.id, object: 'webhook_endpoint', url: r.url, events: JSON.parse(r.events) as WebhookEventType[], created_at: r.created_at }
}

function deliveryOf(r: WebhookDeliveryRow): WebhookDelivery {
  return {
    id: r.id,
    object: 'webhook_delivery',
    event: r.event as WebhookEventType,
    batch_id: r.batch_id,
    url: r.url,
    endpoint_id: r.endpoint_id,
    state: r.state,
    attempts: r.attempts,
    next_attempt_at: r.state === 'pending' ? r.next_attempt_at : null,
    created_at: r.created_at,
    delivered_at: r.delivered_at,
    last_error: r.last_error,
  }
}

/** The secret for URLs in batch metadata: VBS_WEBHOOK_SECRET, else <data>/webhook-secret (made once, mode 0600). */
export function loadMetadataSecret(dataDir: string, fromSettings: string | null): { secret: string; origin: string } {
  if (fromSettings) return { secret: fromSettings, origin: 'the VBS_WEBHOOK_SECRET setting' }
  const file = path.join(dataDir, 'webhook-secret')
  try {
    const secret = fs.readFileSync(file, 'utf8').trim()
    if (secret) return { secret, origin: file }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const secret = newWebhookSecret()
  fs.writeFileSync(file, `${secret}\n`, { mode: 0o600 })
  return { secret, origin: file }
}
