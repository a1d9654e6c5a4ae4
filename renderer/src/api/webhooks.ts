/** The webhooks' endpoints: the configured receivers and the outbox's dead letters (`/api/webhooks`). */
import type { NewWebhookEndpoint, WebhookDelivery, WebhookDeliveryPage, WebhookEndpointCreated, WebhookEndpointList } from '../types'
import { call } from './transport'

const enc = encodeURIComponent

export const listWebhooks = (): Promise<WebhookEndpointList> => call('GET', '/api/webhooks')
export const addWebhook = (body: NewWebhookEndpoint): Promise<WebhookEndpointCreated> => call('POST', '/api/webhooks', body)
export const removeWebhook = (id: string): Promise<unknown> => call('DELETE', `/api/webhooks/${enc(id)}`)
export const listDeadWebhooks = async (): Promise<WebhookDelivery[]> =>
  (await call<WebhookDeliveryPage>('GET', '/api/webhooks/deliveries?state=dead&limit=100')).data
export const redeliverWebhook = (id: string): Promise<WebhookDelivery> => call('POST', `/api/webhooks/deliveries/${enc(id)}/redeliver`)
