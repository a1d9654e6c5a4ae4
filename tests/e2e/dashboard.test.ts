import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium, type Browser, type Page } from 'playwright-core'
import type { Comparison, ComparisonRowPage } from '../../main/contract'
import { jsonl, requestLine, ROOT, startService, tempDir, type TestService } from '../helpers/service'
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
  // test-model-b answers as a second opinion where a prompt holds [flip] (its words reversed) or [shout].
  fake = fakeEngineEnv({ FAKE_VLLM_LATENCY_MS: '5', FAKE_VLLM_VARIANT: 'test-model-b' })
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

describe('the comparison in Chromium', () => {
  const KINDS = ['plain', 'flip', 'shout', 'plain', 'flip', 'plain']
  let comparisonId = ''

  it('runs a dropped file on two models, shows the answers side by side with the diff, takes keyboard votes, and exports', async () => {
    // Written for a hosted model: the comparison runs it on ours (the file's model is replaced).
    const text =
      KINDS.map((kind, i) =>
        requestLine(`ab-${i + 1}`, {}, { model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: `Question ${i + 1}${kind === 'plain' ? '' : ` [${kind}]`}` }] }),
      ).join('\n') + '\n'
    await page.goto(`${t.url}/#/`)
    await page.getByRole('heading', { name: 'Engine' }).waitFor()
    await dropFile(text, 'ab.jsonl')
    await expect.poll(async () => page.getByTestId('drop-preview').textContent(), { timeout: TIMEOUT }).toContain(`${KINDS.length} lines`)
    await page.getByRole('button', { name: 'Run on several models' }).click()
    const picker = page.getByTestId('run-on-models')
    await picker.getByRole('checkbox', { name: 'test-model-a' }).check()
    await picker.getByRole('checkbox', { name: 'test-model-b' }).check()
    await picker.getByRole('button', { name: 'Run on 2 models' }).click()

    await page.waitForURL(/#\/compare\/cmp_/)
    comparisonId = decodeURIComponent(new URL(page.url()).hash.replace('#/compare/', '').split('?')[0])
    for (const model of ['test-model-a', 'test-model-b']) {
      await expect.poll(async () => page.getByTestId(`arm-${model}`).getByTestId('batch-status').textContent(), { timeout: TIMEOUT }).toBe('completed')
    }
    // Filled in live: the rows show both answers without a reload.
    const flip = page.getByTestId('row-ab-2')
    await expect.poll(async () => flip.getByTestId('answer-test-model-b').textContent(), { timeout: TIMEOUT }).toContain('[flip] 2 Question echo:')
    expect(await flip.getByTestId('answer-test-model-a').textContent()).toContain('echo: Question 2 [flip]')
    expect(await flip.getByTestId('answer-test-model-b').locator('ins').count()).toBeGreaterThan(0)
    expect(await flip.getByTestId('answer-test-model-a').locator('del').count()).toBeGreaterThan(0)
    expect(await page.getByTestId('row-ab-1').locator('ins, del').count()).toBe(0)

    // Keyboard voting: 1 on ab-1, j 2 on ab-2, j t on ab-3, j b on ab-4, then a note on ab-4.
    for (const key of ['1', 'j', '2', 'j', 't', 'j', 'b']) await page.keyboard.press(key)
    await page.keyboard.press('n')
    await page.getByRole('textbox', { name: 'Note' }).fill('neither says anything')
    await page.keyboard.press('Control+Enter')
    await page.getByTestId('note-editor').waitFor({ state: 'detached' }) // saved
    await expect.poll(async () => page.getByTestId('vote-totals').textContent(), { timeout: TIMEOUT }).toBe('4 votes · 1 tie · 1 both bad')
    const rows = (await (await t.api(`/api/comparisons/${comparisonId}/rows?limit=10`)).json()) as ComparisonRowPage
    expect(rows.data.map((r) => [r.custom_id, r.vote?.winner ?? null, r.vote?.note ?? null])).toEqual([
      ['ab-1', 'test-model-a', null],
      ['ab-2', 'test-model-b', null],
      ['ab-3', 'tie', null],
      ['ab-4', 'both_bad', 'neither says anything'],
      ['ab-5', null, null],
      ['ab-6', null, null],
    ])
    const c = (await (await t.api(`/api/comparisons/${comparisonId}`)).json()) as Comparison
    expect(c.arms.map((a) => [a.model, a.wins])).toEqual([
      ['test-model-a', 1],
      ['test-model-b', 1],
    ])
    await expect.poll(async () => page.getByTestId('arm-test-model-a').getByTestId('win-rate').textContent(), { timeout: TIMEOUT }).toContain('25%')
    await shot('compare')

    // "Differences only": the [flip] rows.
    await page.getByRole('checkbox', { name: 'Differences only' }).check()
    await expect.poll(async () => page.locator('.cmp-row').count(), { timeout: TIMEOUT }).toBe(2)
    // A reload keeps "differences only" and the current row (both in the address).
    await page.keyboard.press('j')
    await expect.poll(() => new URL(page.url()).hash, { timeout: TIMEOUT }).toBe(`#/compare/${comparisonId}?diff=1&row=ab-5`)
    await page.reload()
    await page.getByTestId('comparison-view').waitFor()
    await expect.poll(async () => page.locator('.cmp-row[aria-current="true"]').getAttribute('data-testid'), { timeout: TIMEOUT }).toBe('row-ab-5')
    expect(await page.locator('.cmp-row').count()).toBe(2)
    expect(await page.getByRole('checkbox', { name: 'Differences only' }).isChecked()).toBe(true)
    await page.getByRole('checkbox', { name: 'Differences only' }).uncheck()
    await expect.poll(async () => page.locator('.cmp-row').count(), { timeout: TIMEOUT }).toBe(KINDS.length)

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('exports').getByRole('button', { name: 'CSV' }).click()])
    expect(download.suggestedFilename()).toBe(`${comparisonId}.csv`)
    const saved = path.join(tempDir(), 'comparison.csv')
    await download.saveAs(saved)
    const csv = fs.readFileSync(saved, 'utf8').split('\r\n').filter(Boolean)
    expect(csv[0]).toBe('custom_id,prompt,answer: test-model-a,answer: test-model-b,winner,note')
    expect(csv).toHaveLength(1 + KINDS.length)
    expect(csv[1].startsWith('ab-1,')).toBe(true)
    expect(csv[1].endsWith(',test-model-a,')).toBe(true)
    expect(csv[4].endsWith(',both_bad,neither says anything')).toBe(true)

    const [preference] = await Promise.all([page.waitForEvent('download'), page.getByTestId('exports').getByRole('button', { name: 'Preference pairs' }).click()])
    const prefFile = path.join(tempDir(), 'preference.jsonl')
    await preference.saveAs(prefFile)
    const pairs = fs.readFileSync(prefFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { chosen: { content: string }[]; rejected: { content: string }[] })
    expect(pairs.map((p) => p.chosen[0].content)).toEqual(['echo: Question 1', '[flip] 2 Question echo:'])
  })

  it('opens a job of the comparison: its results page, search, a request in the side panel; a reload keeps the view, its search and the open request', async () => {
    await page.getByTestId('arm-test-model-b').getByRole('link').click()
    await page.waitForURL(/#\/jobs\/batch_/)
    const table = page.getByTestId('results-table')
    await expect.poll(async () => table.locator('tbody tr').count(), { timeout: TIMEOUT }).toBe(KINDS.length)
    expect(await page.getByTestId('job-summary').textContent()).toContain('6 of 6 requests')
    await shot('job')

    await page.getByTestId('results-search').fill('flip')
    await expect.poll(async () => table.locator('tbody tr').count(), { timeout: TIMEOUT }).toBe(2)
    await page.getByTestId('result-ab-2').click()
    const panel = page.getByTestId('request-panel')
    await expect.poll(async () => panel.getByTestId('request-answer').textContent(), { timeout: TIMEOUT }).toBe('[flip] 2 Question echo:')
    expect(await panel.getByTestId('chat').textContent()).toContain('Question 2 [flip]')
    // The job's model answered; the line named the hosted one it was written for.
    const usage = await panel.getByTestId('request-usage').textContent()
    expect(usage).toContain('test-model-b')
    expect(usage).toContain('gpt-4o-mini')
    await shot('job-request')

    // The search and the open request are in the address, in place of the entry (not one entry per key).
    expect(new URL(page.url()).hash).toMatch(/^#\/jobs\/batch_\w+\?q=flip&open=ab-2$/)
    const entries = await page.evaluate(() => history.length)

    await page.reload()
    await page.getByTestId('job-view').waitFor()
    await expect.poll(async () => page.getByTestId('request-panel').getByTestId('request-answer').textContent(), { timeout: TIMEOUT }).toBe('[flip] 2 Question echo:')
    await expect.poll(async () => page.getByTestId('results-table').locator('tbody tr').count(), { timeout: TIMEOUT }).toBe(2)
    expect(await page.getByTestId('results-search').inputValue()).toBe('flip')
    expect(await page.getByTestId('result-ab-2').getAttribute('aria-selected')).toBe('true')

    // Cleared, the search leaves the address and every request is listed again.
    await page.getByTestId('results-search').fill('')
    await expect.poll(async () => page.getByTestId('results-table').locator('tbody tr').count(), { timeout: TIMEOUT }).toBe(KINDS.length)
    await expect.poll(() => new URL(page.url()).hash, { timeout: TIMEOUT }).toMatch(/^#\/jobs\/batch_\w+\?open=ab-2$/)
    expect(await page.evaluate(() => history.length)).toBe(entries)
    // Back leaves the job view for the comparison it was opened from.
    await page.goBack()
    await page.getByTestId('comparison-view').waitFor()
  })

  it('lists the comparison in the Compare view, and has the settings in their own view', async () => {
    await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Compare' }).click()
    const list = page.getByTestId('comparison-list')
    await expect.poll(async () => list.textContent(), { timeout: TIMEOUT }).toContain('ab.jsonl')
    await shot('compare-home')
    await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Settings' }).click()
    await page.getByTestId('settings').waitFor()
    expect(page.url()).toMatch(/#\/settings$/)
    await shot('settings')
  })
})

/** Drops a file on the page as a user dragging it from the file manager would. */
async function dropFile(text: string, name: string): Promise<void> {
  await page.evaluate(
    ({ text, name }) => {
      const transfer = new DataTransfer()
      transfer.items.add(new File([text], name, { type: 'application/jsonl' }))
      for (const type of ['dragenter', 'dragover', 'drop']) {
        document.body.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }))
      }
    },
    { text, name },
  )
}

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
