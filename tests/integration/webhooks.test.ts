// Webhooks against a receiver in the test that checks every signature as the Standard Webhooks spec says (its own
// HMAC, not the service's code): delivered exactly once across a restart with the receiver down at first; retried
// on the spec's schedule to a dead letter and redelivered; the clock of the schedule injected (no sleeping).
import crypto from 'node:crypto'
import http from 'node:http'
import net from 'node:net'
import { toFile } from 'openai'
import { afterEach, describe, expect, it } from 'vitest'
import { jsonl, startService, tempDir, type TestService } from '../helpers/service'
import { FAST_ENGINE, eventually, fakeEngineEnv, fakeServices } from '../helpers/fake-engine'
import { batchReaches } from '../helpers/batches'
import type { WebhookDelivery, WebhookDeliveryPage, WebhookEndpointCreated, WebhookEndpointList, WebhookPayload } from '../../main/contract'
import type { Settings } from '../../main/config/settings'
import { openStore } from '../../main/store'

const services = fakeServices()
const receivers: http.Server[] = []
afterEach(async () => {
  await services.cleanup()
  for (const r of receivers.splice(0)) await new Promise((resolve) => r.close(resolve))
})

const SECRET = `whsec_${crypto.randomBytes(32).toString('base64')}`

interface Received {
  id: string
  timestamp: string
  signatureValid: boolean
  payload: WebhookPayload
}

/** Verifies a delivery as a receiver would: HMAC-SHA256 over id.timestamp.body keyed with the secret's bytes. */
function verify(secret: string, headers: http.IncomingHttpHeaders, body: string): boolean {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64')
  const expected = crypto.createHmac('sha256', key).update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`).digest('base64')
  return String(headers['webhook-signature']).split(' ').some((s) => s === `v1,${expected}`)
}

/** A receiver on `port` answering `status()`; what it got, signatures checked against `secret()`. */
async function receiver(port: number, secret: () => string, status: () => number = () => 200): Promise<Received[]> {
  const got: Received[] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => (body += d.toString()))
    req.on('end', () => {
      got.push({ id: String(req.headers['webhook-id']), timestamp: String(req.headers['webhook-timestamp']), signatureValid: verify(secret(), req.headers, body), payload: JSON.parse(body) as WebhookPayload })
      res.writeHead(status()).end()
    })
  })
  receivers.push(server)
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return got
}

async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

/** A service with the fake engine and an injected clock for the webhooks' schedule. */
async function boot(dataDir: string, clock: () => number, settings: Partial<Settings> = {}): Promise<TestService> {
  const fake = fakeEngineEnv()
  const t = await startService({ ...FAST_ENGINE, webhookSecret: SECRET, ...settings }, dataDir, fake.env, { clock })
  services.track({ t, fake })
  return t
}

async function runBatch(t: TestService, metadata: Record<string, string> = {}): Promise<string> {
  const file = await t.client.files.create({ file: await toFile(Buffer.from(jsonl(3, 'wh')), 'in.jsonl'), purpose: 'batch' })
  const batch = await t.client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata })
  await batchReaches(t, batch.id, ['completed'])
  return batch.id
}

async function deliveries(t: TestService, query = ''): Promise<WebhookDelivery[]> {
  return ((await (await t.api(`/api/webhooks/deliveries${query}`)).json()) as WebhookDeliveryPage).data
}

describe('webhooks', () => {
  it('a batch\'s webhook_url hears batch.completed exactly once, though the receiver was down and the service restarted in between', async () => {
    let now = Date.now()
    const clock = (): number => now
    const dataDir = tempDir()
    const port = await freePort()
    const url = `http://127.0.0.1:${port}/hooks/batch`
    const first = await boot(dataDir, clock)
    const id = await runBatch(first, { webhook_url: url })
    // The receiver is down: the first attempt fails and the next is set 5 s later (the clock does not move).
    await first.service.webhooks.tick()
    const [pending] = await deliveries(first)
    expect(pending).toMatchObject({ event: 'batch.completed', batch_id: id, url, endpoint_id: null, state: 'pending', attempts: 1, last_error: 'ECONNREFUSED', next_attempt_at: now + 5000 })
    await first.stop()
    services.untrack(first)

    const got = await receiver(port, () => SECRET)
    const second = await boot(dataDir, clock)
    await second.service.webhooks.tick()
    expect(got).toHaveLength(0) // not due yet
    now += 5000
    await second.service.webhooks.tick()
    expect(got).toHaveLength(1)
    // Later passes, however far the clock moves, never send it again.
    for (const step of [1000, 3_600_000, 48 * 3_600_000]) {
      now += step
      await second.service.webhooks.tick()
    }
    expect(got).toHaveLength(1)
    const [message] = got
    expect(message.signatureValid).toBe(true)
    expect(message.id).toBe(pending.id)
    expect(Math.abs(Number(message.timestamp) - Date.now() / 1000)).toBeLessThan(300)
    expect(message.payload.type).toBe('batch.completed')
    expect(message.payload.data.batch).toMatchObject({ id, object: 'batch', status: 'completed', request_counts: { total: 3, completed: 3, failed: 0 } })
    const output = message.payload.data.links.output_file!
    expect(output).toMatch(new RegExp(`/v1/files/${message.payload.data.batch.output_file_id}/content$`))
    expect(message.payload.data.links.error_file).toBeNull()
    // The link works with the key (from this machine).
    const local = output.replace(/^http:\/\/[^/]+/, second.url)
    expect((await (await second.api(local.slice(second.url.length))).text()).trim().split('\n')).toHaveLength(3)
    expect(await deliveries(second)).toEqual([expect.objectContaining({ id: pending.id, state: 'delivered', attempts: 2, last_error: null, next_attempt_at: null })])
  })

  it('retries on the Standard Webhooks schedule for 24 h, then a dead letter; redeliver sends it again, once', async () => {
    let now = Date.now()
    const t = await boot(tempDir(), () => now)
    const port = await freePort()
    let status = 500
    let endpointSecret = ''
    const got = await receiver(port, () => endpointSecret, () => status)
    const add = await t.api('/api/webhooks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: `http://127.0.0.1:${port}/all`, events: ['batch.completed', 'batch.failed'] }) })
    expect(add.status).toBe(201)
    const endpoint = (await add.json()) as WebhookEndpointCreated
    endpointSecret = endpoint.secret
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/)
    // The secret is shown once: the list does not have it.
    const list = (await (await t.api('/api/webhooks')).json()) as WebhookEndpointList
    expect(list.data).toEqual([{ id: endpoint.id, object: 'webhook_endpoint', url: endpoint.url, events: ['batch.completed', 'batch.failed'], created_at: endpoint.created_at }])
    expect(JSON.stringify(list)).not.toContain(endpoint.secret)

    const announced: string[] = []
    t.service.events.on('webhook.delivery', (e) => announced.push(e.state))
    const batchId = await runBatch(t)
    const start = now
    const attemptsAt: number[] = []
    for (let i = 0; i < 20; i++) {
      await t.service.webhooks.tick()
      attemptsAt.push(now - start)
      const [d] = await deliveries(t, '?state=pending')
      if (!d) break
      now = d.next_attempt_at!
    }
    const h = 3_600_000
    expect(attemptsAt).toEqual([0, 5000, 5000 + 5 * 60_000, 5000 + 35 * 60_000, 5000 + 35 * 60_000 + 2 * h, 5000 + 35 * 60_000 + 7 * h, 5000 + 35 * 60_000 + 17 * h, 24 * h])
    const [dead] = await deliveries(t, '?state=dead')
    expect(dead).toMatchObject({ event: 'batch.completed', batch_id: batchId, endpoint_id: endpoint.id, attempts: 8, last_error: 'HTTP 500', next_attempt_at: null })
    expect(got).toHaveLength(8)
    expect(new Set(got.map((g) => g.id))).toEqual(new Set([dead.id]))
    expect(got.every((g) => g.signatureValid)).toBe(true)
    expect(announced).toEqual(['dead']) // the event stream tells the dashboard

    status = 204
    const redo = await t.api(`/api/webhooks/deliveries/${dead.id}/redeliver`, { method: 'POST' })
    expect(redo.status).toBe(200)
    expect(await redo.json()).toMatchObject({ id: dead.id, state: 'pending', attempts: 0 })
    await t.service.webhooks.tick()
    await eventually(async () => (await deliveries(t, '?state=delivered')).length === 1, 'the redelivery')
    expect(got).toHaveLength(9)
    expect(got[8]).toMatchObject({ id: dead.id, signatureValid: true })
    expect(announced).toEqual(['dead', 'pending', 'delivered'])
    const again = await t.api(`/api/webhooks/deliveries/${dead.id}/redeliver`, { method: 'POST' })
    expect(again.status).toBe(409)
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('delivery_not_dead')
    // Delivered messages are kept a week for the record, then forgotten.
    now += 6 * 24 * h
    await t.service.webhooks.tick()
    expect(await deliveries(t, '?state=delivered')).toHaveLength(1)
    now += 2 * 24 * h
    await t.service.webhooks.tick()
    expect(await deliveries(t)).toEqual([])
  })

  it('checks the URL: http(s) only, LAN addresses allowed, never the service itself; progress is opt-in, at most once a minute', async () => {
    const now = Date.now()
    const t = await boot(tempDir(), () => now)
    const create = async (metadata: Record<string, string>): Promise<Response> => {
      const file = await t.client.files.create({ file: await toFile(Buffer.from(jsonl(2)), 'in.jsonl'), purpose: 'batch' })
      return t.api('/v1/batches', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata }) })
    }
    const own = new URL(t.url)
    for (const [url, problem] of [
      ['ftp://example.com/x', 'a webhook URL must be http or https, got ftp'],
      [`http://localhost:${own.port}/hook`, 'is this service itself'],
      [`${t.url}/v1/batches`, 'is this service itself'],
      ['not a url', 'is not a URL'],
    ]) {
      const res = await create({ webhook_url: url })
      expect(res.status).toBe(400)
      const e = ((await res.json()) as { error: { param: string; message: string; code: string } }).error
      expect(e).toMatchObject({ param: 'metadata.webhook_url', code: 'invalid_value' })
      expect(e.message).toContain(problem)
    }
    const bad = await create({ webhook_url: 'http://192.168.1.20:9000/x', webhook_events: 'batch.done' })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('metadata.webhook_events')
    expect((await create({ webhook_url: 'http://192.168.1.20:9000/hook' })).status).toBe(200)
    const refused = await t.api('/api/webhooks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: `http://127.0.0.1:${own.port}/x` }) })
    expect(refused.status).toBe(400)

    // Progress, opted in by metadata: at most one message a minute per batch and URL (the clock stands still).
    const port = await freePort()
    const got = await receiver(port, () => SECRET)
    const id = await runBatch(t, { webhook_url: `http://127.0.0.1:${port}/p`, webhook_events: 'batch.progress,batch.completed' })
    await t.service.webhooks.tick()
    const mine = (await deliveries(t, `?batch_id=${id}`)).map((d) => [d.event, d.state])
    expect(mine.filter(([e]) => e === 'batch.progress')).toHaveLength(1)
    expect(mine).toContainEqual(['batch.completed', 'delivered'])
    expect(got.map((g) => g.payload.type).sort()).toEqual(['batch.completed', 'batch.progress'])
  })

  it('a batch that expired while the service was off is announced as batch.expired after the restart', async () => {
    const now = Date.now()
    const dataDir = tempDir()
    const port = await freePort()
    const got = await receiver(port, () => SECRET)
    const fake = fakeEngineEnv({ FAKE_VLLM_LATENCY_MS: '300' })
    const first = await startService({ ...FAST_ENGINE, webhookSecret: SECRET, batchConcurrency: 1 }, dataDir, fake.env, { clock: () => now })
    services.track({ t: first, fake })
    const file = await first.client.files.create({ file: await toFile(Buffer.from(jsonl(20, 'x')), 'in.jsonl'), purpose: 'batch' })
    const batch = await first.client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { webhook_url: `http://127.0.0.1:${port}/x` } })
    await batchReaches(first, batch.id, ['in_progress'])
    await first.stop()
    services.untrack(first)
    // A day passes while it is off.
    const store = openStore(dataDir)
    store.db.prepare('UPDATE batches SET expires_at = ? WHERE id = ?').run(Math.floor(now / 1000) - 60, batch.id)
    store.close()

    const second = await boot(dataDir, () => now)
    await batchReaches(second, batch.id, ['expired'])
    await eventually(async () => {
      await second.service.webhooks.tick()
      return got.length > 0
    }, 'the webhook of the expired batch')
    expect(got).toHaveLength(1)
    expect(got[0]).toMatchObject({ signatureValid: true, payload: { type: 'batch.expired', data: { batch: { id: batch.id, status: 'expired' } } } })
  })
})
