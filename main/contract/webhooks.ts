import type { BatchObject } from './batches'

/**
 * Webhooks: the service POSTs an event to a URL when a batch ends (and, opted in, on its progress), signed as
 * the Standard Webhooks spec says, from a durable outbox: retried with backoff for VBS_WEBHOOK_MAX_AGE_HOURS,
 * never again after a 2xx, then kept as a dead letter that can be redelivered.
 */
export const WEBHOOK_EVENTS = ['batch.completed', 'batch.failed', 'batch.cancelled', 'batch.expired', 'batch.progress'] as const
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number]
/** What a URL hears when it names no events: every end of a batch, no progress. */
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEventType[] = ['batch.completed', 'batch.failed', 'batch.cancelled', 'batch.expired']

/** The batch metadata keys a client (any OpenAI SDK) sets to be called back: the URL, and optionally its events. */
export const WEBHOOK_URL_METADATA = 'webhook_url'
export const WEBHOOK_EVENTS_METADATA = 'webhook_events'

/** The body POSTed to a receiver (`webhook-id`, `webhook-timestamp` and `webhook-signature` ride in headers). */
export interface WebhookPayload {
  type: WebhookEventType
  /** ISO 8601, when the event happened. */
  timestamp: string
  data: {
    batch: BatchObject
    /** Absolute URLs of the batch and its files on this service (they need the API key). */
    links: { batch: string; output_file: string | null; error_file: string | null }
  }
}

/** A receiver configured in the settings, for every batch. Its secret is shown once, when it is added. */
export interface WebhookEndpoint {
  id: string
  object: 'webhook_endpoint'
  url: string
  events: WebhookEventType[]
  created_at: number
}

/** `POST /api/webhooks`: the endpoint and, this once, its secret. */
export interface WebhookEndpointCreated extends WebhookEndpoint {
  secret: string
}

/** The body of `POST /api/webhooks`. */
export interface NewWebhookEndpoint {
  url: string
  events?: WebhookEventType[]
}

export interface WebhookEndpointList {
  object: 'list'
  data: WebhookEndpoint[]
  /** Where the secret for URLs in batch metadata comes from (VBS_WEBHOOK_SECRET or the file it was generated into). */
  metadata_secret_origin: string
}

export type WebhookDeliveryState = 'pending' | 'delivered' | 'dead'
export const WEBHOOK_DELIVERY_STATES: readonly WebhookDeliveryState[] = ['pending', 'delivered', 'dead']

/** One message of the outbox: an event for one URL. */
export interface WebhookDelivery {
  /** The `webhook-id` header: the same on every attempt, so a receiver can drop repeats. */
  id: string
  object: 'webhook_delivery'
  event: WebhookEventType
  batch_id: string
  url: string
  /** The configured endpoint, or null for a URL from the batch's metadata. */
  endpoint_id: string | null
  state: WebhookDeliveryState
  attempts: number
  /** Epoch ms of the next attempt while pending, else null. */
  next_attempt_at: number | null
  /** Epoch ms. */
  created_at: number
  delivered_at: number | null
  /** The last attempt's failure (`HTTP 500`, `ECONNREFUSED`, `timed out after 10 s`), or null. */
  last_error: string | null
}

/** `GET /api/webhooks/deliveries?state=&limit=`: newest first. */
export interface WebhookDeliveryPage {
  object: 'list'
  data: WebhookDelivery[]
  has_more: boolean
}
