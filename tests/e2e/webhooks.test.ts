import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium, type Browser, type Page } from 'playwright-core'
import { toFile } from 'openai'
import type { WebhookDeliveryPage } from '../../main/contract'
import { jsonl, ROOT, startService, tempDir, type TestService } from '../helpers/service'
import { FAST_ENGINE, fakeEngineEnv, processGroup, type FakeEngineEnv } from '../helpers/fake-engine'
import { batchReaches } from '../helpers/batches'

/**
 * The webhooks' dead letters in real Chromium against the real service: a receiver that fails until the
 * window is over (the clock of the retry schedule injected), the dead letter in the settings view, Redeliver,
 * and a receiver added with its secret shown once.
 */
const CHROMIUM = process.env.VBS_CHROMIUM ?? '/usr/bin/chromium'
const TIMEOUT = 60_000

let t: TestService
let fake: FakeEngineEnv
let browser: Browser
let page: Page
let receiver: http.Server
let status = 500
const received: string[] = []
let now = Date.now()

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'out', 'renderer', 'index.html'))) throw new Error('the dashboard is not built: run `npm run build` before the end-to-end tests')
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install it with \`apt-get install -y chromium\` or set VBS_CHROMIUM`)
  receiver = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      received.push(String(req.headers['webhook-id']))
      res.writeHead(status).end()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  fake = fakeEngineEnv()
  t = await startService({ ...FAST_ENGINE }, tempDir(), fake.env, { clock: () => now })
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] })
  page = await (await browser.newContext({ viewport: { width: 1280, height: 1100 } })).newPage()
  page.setDefaultTimeout(TIMEOUT)
})

afterAll(async () => {
  await browser?.close()
  await t?.stop()
  for (const l of fake?.launches() ?? []) for (const pid of processGroup(l.pid)) process.kill(pid, 'SIGKILL')
  await new Promise((resolve) => receiver?.close(resolve))
})

describe('webhooks in the dashboard (Chromium)', () => {
  it('shows a dead letter with its error; Redeliver delivers it; a receiver added shows its secret once', async () => {
    const port = (receiver.address() as { port: number }).port
    const file = await t.client.files.create({ file: await toFile(Buffer.from(jsonl(2)), 'in.jsonl'), purpose: 'batch' })
    const batch = await t.client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { webhook_url: `http://127.0.0.1:${port}/hook` } })
    await batchReaches(t, batch.id, ['completed'])
    // Every attempt fails until the 24 h are over: a dead letter.
    for (let i = 0; i < 20; i++) {
      await t.service.webhooks.tick()
      const pending = ((await (await t.api('/api/webhooks/deliveries?state=pending')).json()) as WebhookDeliveryPage).data
      if (pending.length === 0) break
      now = pending[0].next_attempt_at!
    }
    expect(received.length).toBe(8)

    await page.goto(`${t.url}/#key=${t.apiKey}`)
    await page.goto(`${t.url}/#/settings`)
    const dead = page.getByTestId('webhook-dead')
    await dead.waitFor()
    const row = dead.getByRole('row').nth(1)
    expect(await row.textContent()).toContain(batch.id)
    expect(await row.textContent()).toContain('HTTP 500')
    // Into tests/e2e/artifacts/, and VBS_SCREENSHOTS_DIR when set (the README's picture).
    const shot = path.join(ROOT, 'tests', 'e2e', 'artifacts', 'webhooks.png')
    fs.mkdirSync(path.dirname(shot), { recursive: true })
    await page.getByTestId('webhooks').screenshot({ path: shot })
    if (process.env.VBS_SCREENSHOTS_DIR) fs.copyFileSync(shot, path.join(process.env.VBS_SCREENSHOTS_DIR, 'webhooks.png'))

    status = 200
    await row.getByRole('button', { name: 'Redeliver' }).click()
    await expect.poll(() => received.length, { timeout: TIMEOUT }).toBe(9)
    await page.getByText('None: every webhook was delivered or is still being tried.').waitFor()
    expect(new Set(received).size).toBe(1) // one message, one webhook-id, on every attempt

    await page.getByLabel('Receiver URL').fill(`http://127.0.0.1:${port}/all`)
    await page.getByRole('button', { name: 'Add webhook' }).click()
    const secret = page.getByTestId('webhook-secret')
    expect(await secret.textContent()).toMatch(/whsec_[A-Za-z0-9+/]+=*/)
    expect(await page.getByTestId('webhook-endpoints').textContent()).toContain(`http://127.0.0.1:${port}/all`)
    await page.getByRole('button', { name: 'I have saved it' }).click()
    await secret.waitFor({ state: 'detached' })
    await page.reload()
    await page.getByTestId('webhook-endpoints').waitFor()
    expect(await page.content()).not.toMatch(/whsec_/)
  })
})
