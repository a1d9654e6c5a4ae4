import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium, type Browser, type Page } from 'playwright-core'
import { jsonl, ROOT, startService, tempDir, type TestService } from '../helpers/service'
import { FAST_ENGINE, fakeEngineEnv, processGroup, type FakeEngineEnv } from '../helpers/fake-engine'

/**
 * End to end in real Chromium (Debian's /usr/bin/chromium, or VBS_CHROMIUM) against the real service with the
 * fake engine and the fake nvidia-smi. Screenshots go to tests/e2e/artifacts/ (and to VBS_SCREENSHOTS_DIR
 * when set, which is how the README's pictures are made).
 */
const CHROMIUM = process.env.VBS_CHROMIUM ?? '/usr/bin/chromium'
const ARTIFACTS = path.join(ROOT, 'tests', 'e2e', 'artifacts')
const TIMEOUT = 60_000

let t: TestService
let fake: FakeEngineEnv
let browser: Browser
let page: Page

async function shot(name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true })
  const file = path.join(ARTIFACTS, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  const extra = process.env.VBS_SCREENSHOTS_DIR
  if (extra) {
    fs.mkdirSync(extra, { recursive: true })
    fs.copyFileSync(file, path.join(extra, `${name}.png`))
  }
}

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'out', 'renderer', 'index.html'))) {
    throw new Error('the dashboard is not built: run `npm run build` before the end-to-end tests')
  }
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it with \`apt-get install -y chromium\` or set VBS_CHROMIUM`)
  }
  fake = fakeEngineEnv({ FAKE_VLLM_LATENCY_MS: '5' })
  fake.setGpu({ temperature_c: 52 })
  // Host and port come from the environment, as for a user who set them: the page shows no restart notice.
  t = await startService({ ...FAST_ENGINE, gpuPollMs: 200 }, tempDir(), { ...fake.env, VBS_HOST: '127.0.0.1', VBS_PORT: '0' })
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  })
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true, reducedMotion: 'reduce' })
  page = await context.newPage()
  page.setDefaultTimeout(TIMEOUT)
})

afterAll(async () => {
  await browser?.close()
  await t?.stop()
  for (const l of fake?.launches() ?? []) for (const pid of processGroup(l.pid)) process.kill(pid, 'SIGKILL')
})

describe('the dashboard in Chromium', () => {
  it('opens with the key from the link, and shows the GPU temperature change when the GPU changes', async () => {
    await page.goto(`${t.url}/#key=${t.apiKey}`)
    const temperature = page.getByTestId('gpu-temperature')
    await expect.poll(async () => temperature.textContent(), { timeout: TIMEOUT }).toContain('52 °C')
    expect(page.url()).not.toContain(t.apiKey) // the key left the address bar
    await shot('dashboard')
    fake.setGpu({ temperature_c: 67 })
    await expect.poll(async () => temperature.textContent(), { timeout: TIMEOUT }).toContain('67 °C')
  })

  it('takes a dropped JSONL file: preview, submit with progress, the job completes, the output downloads', async () => {
    const n = 40
    const text = jsonl(n, 'e2e')
    await page.evaluate(
      ({ text }) => {
        const transfer = new DataTransfer()
        transfer.items.add(new File([text], 'dropped.jsonl', { type: 'application/jsonl' }))
        for (const type of ['dragenter', 'dragover', 'drop']) {
          document.body.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }))
        }
      },
      { text },
    )
    const preview = page.getByTestId('drop-preview')
    await expect.poll(async () => preview.textContent(), { timeout: TIMEOUT }).toContain(`${n} lines`)
    expect(await preview.textContent()).toContain('/v1/chat/completions')
    await shot('drop-preview')
    await page.getByRole('button', { name: 'Submit batch' }).click()
    const batchId = await eventuallyBatch()
    await expect.poll(async () => page.getByTestId('upload-progress').textContent(), { timeout: TIMEOUT }).toContain(`Submitted as ${batchId}`)

    const row = page.getByTestId(`job-${batchId}`)
    await expect.poll(async () => row.getByTestId('batch-status').textContent(), { timeout: TIMEOUT }).toBe('completed')
    expect(await row.textContent()).toContain(`${n} of ${n} requests`)
    await shot('queue')

    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: 'Download output' }).click()])
    const saved = path.join(tempDir(), 'output.jsonl')
    await download.saveAs(saved)
    const lines = fs.readFileSync(saved, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { custom_id: string; response: { status_code: number } })
    expect(lines).toHaveLength(n)
    expect(new Set(lines.map((l) => l.custom_id)).size).toBe(n)
    expect(lines.every((l) => l.response.status_code === 200)).toBe(true)
  })
})

/** The id of the batch the page created (the newest). */
async function eventuallyBatch(): Promise<string> {
  const deadline = Date.now() + TIMEOUT
  for (;;) {
    const list = await t.client.batches.list({ limit: 1 })
    if (list.data[0]) return list.data[0].id
    if (Date.now() > deadline) throw new Error('the page created no batch')
    await new Promise((r) => setTimeout(r, 100))
  }
}
