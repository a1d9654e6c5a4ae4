import Router from '@koa/router'
import { badRequest } from '../../api-error'
import { echo } from '../../api-params'
import { WEBHOOK_DELIVERY_STATES, type WebhookDeliveryPage, type WebhookEndpointList } from '../../contract/webhooks'
import type { WebhookOutbox } from '../../webhooks/outbox'
import type { AdminAccess } from '../admin-access'
import { readJsonBody } from '../json-body'
import type { AppState } from '../middleware'
import { listParams, offsetParam, singleParam } from './list-params'

/**
 * /api/webhooks: the configured receivers (adding and removing one is an admin action; its secret is shown once,
 * in the answer that adds it) and the outbox's deliveries, dead letters among them, with redeliver.
 */
export function webhooksRouter(deps: { webhooks: WebhookOutbox; admin: AdminAccess; maxJsonBodyBytes: number }): Router<AppState> {
  const { webhooks } = deps
  const router = new Router<AppState>()

  router.get('/api/webhooks', (ctx) => {
    const body: WebhookEndpointList = { object: 'list', data: webhooks.endpoints(), metadata_secret_origin: webhooks.metadataSecret.origin }
    ctx.body = body
  })

  router.post('/api/webhooks', deps.admin.require, async (ctx) => {
    const body = await readJsonBody(ctx, deps.maxJsonBodyBytes)
    ctx.status = 201
    ctx.body = webhooks.addEndpoint(body)
  })

  router.delete('/api/webhooks/:id', deps.admin.require, (ctx) => {
    webhooks.removeEndpoint(ctx.params.id)
    ctx.body = { id: ctx.params.id, object: 'webhook_endpoint', deleted: true }
  })

  router.get('/api/webhooks/deliveries', (ctx) => {
    const state = singleParam(ctx.query, 'state')
    if (state !== undefined && !(WEBHOOK_DELIVERY_STATES as readonly string[]).includes(state)) {
      throw badRequest(`Invalid 'state': ${echo(state)}. Expected one of ${WEBHOOK_DELIVERY_STATES.join(', ')}.`, 'invalid_value', 'state')
    }
    const { limit } = listParams(ctx.query, { defaultLimit: 50, maxLimit: 500, orders: false })
    const page = webhooks.deliveries({ state, batchId: singleParam(ctx.query, 'batch_id') }, offsetParam(ctx.query, 'offset'), limit)
    const body: WebhookDeliveryPage = { object: 'list', data: page.data, has_more: page.hasMore }
    ctx.body = body
  })

  router.post('/api/webhooks/deliveries/:id/redeliver', (ctx) => {
    ctx.body = webhooks.redeliver(ctx.params.id)
  })

  return router
}
