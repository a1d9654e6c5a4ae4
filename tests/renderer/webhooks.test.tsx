// @vitest-environment happy-dom
import { fireEvent, screen, waitFor, within } from '@testing-library/react'
import { describe, expect, test } from 'vitest'
import { envelope, json } from './fake-service'
import { startWithService } from './render-app'
import type { WebhookDelivery, WebhookEndpoint } from '../../main/contract'

const dead = (over: Partial<WebhookDelivery> = {}): WebhookDelivery => ({
  id: 'msg_1', object: 'webhook_delivery', event: 'batch.completed', batch_id: 'batch_a', url: 'http://10.0.0.5:9000/hook', endpoint_id: null,
  state: 'dead', attempts: 8, next_attempt_at: null, created_at: Date.parse('2026-12-01T10:00:00Z'), delivered_at: null, last_error: 'HTTP 500', ...over,
})

// The webhooks are in the settings view, #/settings.
describe('the webhooks', () => {
  test('adding a receiver sends its URL and events and shows the secret once', async () => {
    const endpoints: WebhookEndpoint[] = []
    const { service } = startWithService((s) => {
      s.on('GET', '/api/webhooks', () => json({ object: 'list', data: endpoints, metadata_secret_origin: '/data/webhook-secret' }))
      s.on('POST', '/api/webhooks', (call) => {
        const body = call.body as { url: string; events: string[] }
        if (body.url.includes(':4080')) return envelope(400, "Invalid 'url': 127.0.0.1:4080 is this service itself; a webhook must go to another program.", 'invalid_value', 'url')
        const e = { id: 'whep_1', object: 'webhook_endpoint' as const, url: body.url, events: body.events as WebhookEndpoint['events'], created_at: 1 }
        endpoints.push(e)
        return json({ ...e, secret: 'whsec_shownOnce' }, 201)
      })
    }, '#/settings')
    const card = await screen.findByTestId('webhooks')
    expect(card.textContent).toContain('/data/webhook-secret')
    const input = within(card).getByLabelText('Receiver URL')
    fireEvent.change(input, { target: { value: 'http://127.0.0.1:4080/x' } })
    fireEvent.click(within(card).getByRole('button', { name: 'Add webhook' }))
    expect((await within(card).findByRole('alert')).textContent).toContain('is this service itself')

    fireEvent.change(input, { target: { value: 'http://10.0.0.5:9000/hook' } })
    fireEvent.click(within(card).getByLabelText('batch.progress'))
    fireEvent.click(within(card).getByRole('button', { name: 'Add webhook' }))
    expect((await screen.findByTestId('webhook-secret')).textContent).toContain('whsec_shownOnce')
    expect(service.callsTo('POST', '/api/webhooks').at(-1)!.body).toEqual({ url: 'http://10.0.0.5:9000/hook', events: ['batch.completed', 'batch.failed', 'batch.cancelled', 'batch.expired', 'batch.progress'] })
    expect((await screen.findByTestId('webhook-endpoints')).textContent).toContain('http://10.0.0.5:9000/hook')
    fireEvent.click(screen.getByRole('button', { name: 'I have saved it' }))
    expect(screen.queryByTestId('webhook-secret')).toBeNull()
    expect(screen.queryByText(/whsec_shownOnce/)).toBeNull()
  })

  test('a dead letter is listed with its error and Redeliver sends it again', async () => {
    let letters = [dead()]
    const { service } = startWithService((s) => {
      s.on('GET', '/api/webhooks/deliveries', () => json({ object: 'list', data: letters, has_more: false }))
      s.on('POST', '/api/webhooks/deliveries/msg_1/redeliver', () => {
        letters = []
        return json(dead({ state: 'pending', attempts: 0, next_attempt_at: 1 }))
      })
    }, '#/settings')
    const table = await screen.findByTestId('webhook-dead')
    const row = within(table).getAllByRole('row')[1]
    expect(row.textContent).toContain('batch.completed')
    expect(row.textContent).toContain('HTTP 500')
    expect(row.textContent).toContain('8')
    fireEvent.click(within(row).getByRole('button', { name: 'Redeliver' }))
    await waitFor(() => expect(service.callsTo('POST', '/api/webhooks/deliveries/msg_1/redeliver')).toHaveLength(1))
    await waitFor(() => expect(screen.queryByTestId('webhook-dead')).toBeNull())
    expect(service.callsTo('GET', '/api/webhooks/deliveries').at(-1)!.url).toContain('state=dead')
  })

  test('a delivery that gives up while the view is open appears at once (the event stream)', async () => {
    let letters: WebhookDelivery[] = []
    const { service } = startWithService((s) => s.on('GET', '/api/webhooks/deliveries', () => json({ object: 'list', data: letters, has_more: false })), '#/settings')
    await screen.findByText('None: every webhook was delivered or is still being tried.')
    await waitFor(() => expect(service.openStreams).toBe(1))
    letters = [dead({ id: 'msg_2', last_error: 'ECONNREFUSED' })]
    service.push('webhook.delivery', { id: 'msg_2', event: 'batch.completed', batch_id: 'batch_a', state: 'dead' })
    expect((await screen.findByTestId('webhook-dead')).textContent).toContain('ECONNREFUSED')
  })
})
