import { afterEach, describe, expect, it } from 'vitest'
import OpenAI, { toFile } from 'openai'
import type { Job, JobPage, ScheduleState } from '../../main/contract'
import { requestLine, type TestService } from '../helpers/service'
import { eventually, fakeServices, type FakeEngineEnv } from '../helpers/fake-engine'
import { batchReaches as until } from '../helpers/batches'

// Scheduling (issue 12, points 2-4): the queue's order, batch hours, idle-only and the power cap, on the real
// service (port 0, SQLite in a temp dir) with the fake vLLM, through the official SDK. The clock and the
// desktop's idle time are injected; nothing waits on a timer to synchronise.
const services = fakeServices({ retryBaseMs: 50 })
const boot = services.boot
afterEach(services.cleanup)

const MINUTE = 60_000

function lines(n: number, prefix: string, model = 'test-model-a'): string {
  let out = ''
  for (let i = 1; i <= n; i++) out += `${requestLine(`${prefix}-${i}`, {}, { model })}\n`
  return out
}

async function submit(t: TestService, text: string, metadata?: Record<string, string>): Promise<OpenAI.Batches.Batch> {
  const file = await t.client.files.create({ file: await toFile(Buffer.from(text), 'in.jsonl'), purpose: 'batch' })
  return t.client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', ...(metadata ? { metadata } : {}) })
}

async function page(t: TestService): Promise<JobPage> {
  const res = await t.api('/api/batches')
  expect(res.status).toBe(200)
  return (await res.json()) as JobPage
}

async function job(t: TestService, id: string): Promise<Job> {
  return (await (await t.api(`/api/batches/${id}`)).json()) as Job
}

const post = (t: TestService, path: string, body?: unknown, method = 'POST'): Promise<Response> =>
  t.api(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) })

/** Loads a model and waits until it serves. */
async function load(t: TestService, model: string): Promise<void> {
  expect((await post(t, '/api/engine/start', { model })).status).toBe(202)
  await eventually(() => t.service.engine.runs(model), `${model} to be loaded`)
}

/** When each batch sent its first request (epoch ms, from its row in SQLite). */
function firstStarted(t: TestService, id: string): number {
  const at = t.service.store.batches.get(id)?.first_started_at
  if (at == null) throw new Error(`batch ${id} never started`)
  return at
}

function loadedModels(fake: FakeEngineEnv): string[] {
  return fake.launches().map((l) => l.served[0])
}

describe('the queue avoids swaps', () => {
  it('with A loaded, jobs A, B, A submitted in that order run A, A, B: one swap, each queued job shows its place', async () => {
    const { t, fake } = await boot({}, { chunkSize: 50 })
    expect((await post(t, '/api/batches/pause')).status).toBe(200)
    await load(t, 'test-model-a')
    const a1 = await submit(t, lines(5, 'a1'))
    const b = await submit(t, lines(5, 'b', 'test-model-b'))
    const a2 = await submit(t, lines(5, 'a2'))
    for (const x of [a1, b, a2]) await until(t, x.id, ['in_progress'])

    const queued = await page(t)
    const place = (id: string): Job['queue'] => queued.data.find((j) => j.id === id)!.queue
    expect(place(a1.id)).toMatchObject({ position: 1, reason: 'arrival', eta_seconds: 0 })
    expect(place(a2.id)).toMatchObject({ position: 2, reason: 'warm' })
    expect(place(a2.id)!.detail).toContain('test-model-a is loaded')
    expect(place(b.id)).toMatchObject({ position: 3, reason: 'arrival' })
    for (const j of queued.data) expect(j.priority).toBe('normal')

    expect((await post(t, '/api/batches/resume')).status).toBe(200)
    for (const x of [a1, b, a2]) expect((await until(t, x.id, ['completed', 'failed'])).status).toBe('completed')
    expect(firstStarted(t, a1.id)).toBeLessThan(firstStarted(t, a2.id))
    expect(firstStarted(t, a2.id)).toBeLessThan(firstStarted(t, b.id))
    // A was loaded once and B once: the second A job ran without a swap.
    expect(loadedModels(fake)).toEqual(['test-model-a', 'test-model-b'])
    for (const j of (await page(t)).data) expect(j.queue).toBeNull()
  })

  it('a job older than VBS_MAX_QUEUE_WAIT_MINUTES is not overtaken by a job of the loaded model', async () => {
    let offset = 0
    const { t, fake } = await boot({}, { chunkSize: 50, maxQueueWaitMinutes: 120 }, undefined, { clock: () => Date.now() + offset })
    expect((await post(t, '/api/batches/pause')).status).toBe(200)
    await load(t, 'test-model-a')
    const b = await submit(t, lines(5, 'b', 'test-model-b'))
    await until(t, b.id, ['in_progress'])
    offset = 121 * MINUTE // B has waited past the aging limit
    const a = await submit(t, lines(5, 'a'))
    await until(t, a.id, ['in_progress'])

    const queued = await page(t)
    expect(queued.data.find((j) => j.id === b.id)!.queue).toMatchObject({ position: 1, reason: 'overdue' })
    expect(queued.data.find((j) => j.id === a.id)!.queue).toMatchObject({ position: 2 })

    expect((await post(t, '/api/batches/resume')).status).toBe(200)
    for (const x of [a, b]) expect((await until(t, x.id, ['completed', 'failed'])).status).toBe('completed')
    expect(firstStarted(t, b.id)).toBeLessThan(firstStarted(t, a.id))
    expect(loadedModels(fake)).toEqual(['test-model-a', 'test-model-b', 'test-model-a'])
  })

  it('a high-priority job runs next, at the running job\'s next chunk boundary, never in the middle of a chunk', async () => {
    const { t } = await boot({ FAKE_VLLM_LATENCY_MS: '30' }, { chunkSize: 10, batchConcurrency: 2 })
    const long = await submit(t, lines(200, 'long'))
    await eventually(async () => ((await job(t, long.id)).request_counts?.completed ?? 0) >= 10 || null, 'the long job to be under way')
    // Every progress event in the order the service announced them (the event stream's order).
    const seen: { id: string; done: number }[] = []
    const stop = t.service.events.on('batch.progress', ({ id, progress }) => seen.push({ id, done: progress.completed + progress.failed }))
    let urgentId = ''
    try {
      const urgent = await submit(t, lines(5, 'urgent'), { priority: 'high' })
      urgentId = urgent.id
      expect((await job(t, urgent.id)).priority).toBe('high')
      expect((await until(t, urgent.id, ['completed', 'failed'])).status).toBe('completed')
      // It did not wait for the long job to end ...
      const meanwhile = await t.client.batches.retrieve(long.id)
      expect(meanwhile.status).toBe('in_progress')
      expect(meanwhile.request_counts!.completed).toBeLessThan(200)
    } finally {
      stop()
    }
    // ... and the long job stopped at a chunk boundary: whole chunks of 10 done, nothing cut short, when the
    // urgent job began; nothing of the long job moved while the urgent one ran.
    const first = seen.findIndex((e) => e.id === urgentId)
    const last = seen.findLastIndex((e) => e.id === urgentId)
    expect(first).toBeGreaterThan(0)
    const atYield = seen.slice(0, first).filter((e) => e.id === long.id).at(-1)!.done
    expect(atYield % 10).toBe(0)
    expect(atYield).toBeGreaterThanOrEqual(10)
    expect(seen.slice(first, last + 1).filter((e) => e.id === long.id && e.done !== atYield)).toEqual([])
    const done = await until(t, long.id, ['completed', 'failed'])
    expect(done.request_counts).toEqual({ total: 200, completed: 200, failed: 0 })
  })

  it('the arms of a comparison run one after another, before an older job that needs the same swap', async () => {
    const { t, fake } = await boot({}, { chunkSize: 50 })
    expect((await post(t, '/api/batches/pause')).status).toBe(200)
    await load(t, 'test-model-a')
    const older = await submit(t, lines(4, 'older', 'test-model-b'))
    await until(t, older.id, ['in_progress'])
    const file = await t.client.files.create({ file: await toFile(Buffer.from(lines(4, 'cmp')), 'in.jsonl'), purpose: 'batch' })
    const res = await post(t, '/api/comparisons', { input_file_id: file.id, models: ['test-model-a', 'test-model-b'] })
    expect(res.status).toBe(201)
    const [armA, armB] = ((await res.json()) as { arms: { model: string; batch_id: string }[] }).arms.map((a) => a.batch_id)
    for (const id of [armA, armB]) await until(t, id, ['in_progress'])

    const queued = await page(t)
    const place = (id: string): Job['queue'] => queued.data.find((j) => j.id === id)!.queue
    expect(place(armA)).toMatchObject({ position: 1, reason: 'warm' })
    expect(place(armB)).toMatchObject({ position: 2, reason: 'comparison' })
    expect(place(older.id)).toMatchObject({ position: 3 })

    expect((await post(t, '/api/batches/resume')).status).toBe(200)
    for (const id of [armA, armB, older.id]) expect((await until(t, id, ['completed', 'failed'])).status).toBe('completed')
    expect(firstStarted(t, armA)).toBeLessThan(firstStarted(t, armB))
    expect(firstStarted(t, armB)).toBeLessThan(firstStarted(t, older.id))
    expect(loadedModels(fake)).toEqual(['test-model-a', 'test-model-b'])
  })

  it('changes a queued job\'s priority from the dashboard, and refuses a bad one with the error envelope', async () => {
    const { t } = await boot({}, { chunkSize: 50 })
    expect((await post(t, '/api/batches/pause')).status).toBe(200)
    const first = await submit(t, lines(3, 'first'))
    const second = await submit(t, lines(3, 'second'))
    for (const x of [first, second]) await until(t, x.id, ['in_progress'])
    expect((await job(t, second.id)).queue).toMatchObject({ position: 2 })

    const raised = await post(t, `/api/batches/${second.id}/priority`, { priority: 'high' }, 'PUT')
    expect(raised.status).toBe(200)
    expect((await raised.json()) as Job).toMatchObject({ id: second.id, priority: 'high', queue: { position: 1, reason: 'priority' } })
    expect((await job(t, first.id)).queue).toMatchObject({ position: 2 })

    const bad = await post(t, `/api/batches/${first.id}/priority`, { priority: 'urgent' }, 'PUT')
    expect(bad.status).toBe(400)
    expect(await bad.json()).toEqual({ error: { message: "Invalid 'priority' \"urgent\": a batch's priority is high, normal or low.", type: 'invalid_request_error', param: 'priority', code: 'invalid_value' } })
    const missing = await post(t, `/api/batches/${first.id}/priority`, {}, 'PUT')
    expect(missing.status).toBe(400)
    expect(((await missing.json()) as { error: { param: string; message: string } }).error).toMatchObject({ param: 'priority', message: "Missing required parameter: 'priority' (high, normal or low).", code: 'missing_required_parameter' })
    expect((await job(t, first.id)).priority).toBe('normal')
    const unknown = await post(t, '/api/batches/batch_0123456789abcdef0123456789abcdef/priority', { priority: 'low' }, 'PUT')
    expect(unknown.status).toBe(404)

    // metadata.priority at creation is checked the same way, and nothing is stored.
    const before = (await page(t)).data.length
    const file = await t.client.files.create({ file: await toFile(Buffer.from(lines(1, 'x')), 'in.jsonl'), purpose: 'batch' })
    const refused = await t.client.batches
      .create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { priority: 'asap' } })
      .catch((e: unknown) => e as InstanceType<typeof OpenAI.APIError>)
    expect(refused).toMatchObject({ status: 400, param: 'metadata.priority', code: 'invalid_value' })
    expect((await page(t)).data.length).toBe(before)

    expect((await post(t, '/api/batches/resume')).status).toBe(200)
    for (const x of [first, second]) await until(t, x.id, ['completed'])
    expect(firstStarted(t, second.id)).toBeLessThan(firstStarted(t, first.id))
    const ended = await post(t, `/api/batches/${first.id}/priority`, { priority: 'low' }, 'PUT')
    expect(ended.status).toBe(409)
    expect(((await ended.json()) as { error: { code: string } }).error.code).toBe('batch_not_queued')
  })
})

/** `HH:MM` of a local time. */
const hm = (at: number): string => {
  const d = new Date(at)
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`
}

describe('batch hours and idle-only', () => {
  it('holds a job outside the batch hours with the next start, runs it once they open, stops at a chunk boundary when they close; "run now anyway" overrides', async () => {
    const now = Date.now()
    // A window that opens in an hour (whole minutes, local time) and lasts an hour.
    const opens = new Date(now + 60 * MINUTE)
    opens.setSeconds(0, 0)
    const hours = `${hm(opens.getTime())}-${hm(opens.getTime() + 60 * MINUTE)}`
    let offset = 0
    const { t, fake } = await boot({ FAKE_VLLM_LATENCY_MS: '20' }, { batchHours: hours, chunkSize: 10, batchConcurrency: 2 }, undefined, {
      clock: () => Date.now() + offset,
    })
    const b = await submit(t, lines(5, 'night'))
    const held = await eventually(async () => {
      const j = await job(t, b.id)
      return j.hold?.kind === 'quiet_hours' ? j : null
    }, 'the job to be held by the batch hours')
    expect(held.hold!.detail).toContain(`batches run ${hours}`)
    expect(held.hold!.detail).toContain(hm(opens.getTime()))
    expect(held.queue).toMatchObject({ position: 1 })
    expect(held.queue!.eta_seconds).toBeGreaterThanOrEqual(55 * 60)
    const schedule = (await page(t)).schedule!
    expect(schedule).toMatchObject({ open: false, batch_hours: hours, next_start: opens.getTime(), run_now: false })
    expect(schedule.hold?.kind).toBe('quiet_hours')
    expect(fake.requests().filter((r) => r.path === '/v1/chat/completions')).toHaveLength(0)

    // Interactive requests are never held.
    const chat = await t.client.chat.completions.create({ model: 'test-model-a', messages: [{ role: 'user', content: 'hi' }] })
    expect(chat.choices[0].message.content).toBe('echo: hi')

    offset = 61 * MINUTE // inside the window
    const done = await until(t, b.id, ['completed', 'failed'])
    expect(done.request_counts).toEqual({ total: 5, completed: 5, failed: 0 })
    expect((await job(t, b.id)).hold).toBeNull()

    // A long job while the window closes: in-flight requests finish, it stops at a chunk boundary.
    const long = await submit(t, lines(300, 'long'))
    await eventually(async () => ((await job(t, long.id)).request_counts?.completed ?? 0) >= 10 || null, 'the long job to be under way')
    offset = 125 * MINUTE // past the end of the window
    const stopped = await eventually(async () => {
      const j = await job(t, long.id)
      return j.hold?.kind === 'quiet_hours' && !j.running ? j : null
    }, 'the long job to stop for the batch hours')
    const at = stopped.request_counts!.completed
    expect(at % 10).toBe(0)
    expect(at).toBeLessThan(300)
    expect((await job(t, long.id)).request_counts!.completed).toBe(at)

    // "Run now anyway": it runs to the end although the window is closed, until the window next opens.
    const on = await post(t, '/api/batches/run-now')
    expect(on.status).toBe(200)
    const state = (await on.json()) as ScheduleState
    expect(state).toMatchObject({ open: true, run_now: true, hold: null })
    expect(state.run_now_until).toBeGreaterThan(Date.now() + offset)
    expect((await until(t, long.id, ['completed', 'failed'])).request_counts).toEqual({ total: 300, completed: 300, failed: 0 })
    const off = (await (await post(t, '/api/batches/run-now', undefined, 'DELETE')).json()) as ScheduleState
    expect(off).toMatchObject({ open: false, run_now: false, run_now_until: null })
  })

  it('idle-only: a job waits while the desktop is in use (injected idle time) and runs once it is idle', async () => {
    let idle = 5
    const { t } = await boot({}, { batchWhenIdle: true, batchIdleSeconds: 60 }, undefined, { idleSeconds: () => idle })
    const b = await submit(t, lines(4, 'idle'))
    const held = await eventually(async () => {
      const j = await job(t, b.id)
      return j.hold?.kind === 'not_idle' ? j : null
    }, 'the job to wait for an idle desktop')
    expect(held.hold!.detail).toContain('60 s without use')
    expect((await page(t)).schedule).toMatchObject({ open: false, when_idle: true, next_start: null })
    const chat = await t.client.chat.completions.create({ model: 'test-model-a', messages: [{ role: 'user', content: 'busy desk' }] })
    expect(chat.choices[0].message.content).toBe('echo: busy desk')
    expect((await t.client.batches.retrieve(b.id)).request_counts!.completed).toBe(0)

    idle = 61
    expect((await until(t, b.id, ['completed', 'failed'])).request_counts).toEqual({ total: 4, completed: 4, failed: 0 })
  })
})

/** Requests the engine is working on now, from the vLLM series the service's /metrics scrapes. */
async function engineRunning(t: TestService): Promise<number | null> {
  const text = await (await t.api('/metrics')).text()
  const m = /^vllm:num_requests_running(?:\{[^}]*\})? (\S+)$/m.exec(text)
  return m ? Number(m[1]) : null
}

describe('power cap', () => {
  it('narrows the in-flight window while the GPU draws more than VBS_GPU_POWER_LIMIT_W and widens it again below', async () => {
    const { t, fake } = await boot({ FAKE_VLLM_LATENCY_MS: '150' }, { gpuPowerLimitW: 200, batchConcurrency: 8, chunkSize: 1000, gpuPollMs: 50 })
    fake.setGpu({ power_w: 120 })
    const b = await submit(t, lines(600, 'watts'))
    const wide = await eventually(async () => {
      const j = await job(t, b.id)
      return j.running && j.progress?.power?.window === 8 ? j : null
    }, 'the job to run with its full window')
    expect(wide.progress!.power).toMatchObject({ cap_w: 200, max_window: 8 })
    await eventually(async () => ((await engineRunning(t)) ?? 0) >= 5 || null, 'several requests in flight')

    fake.setGpu({ power_w: 260 })
    const narrow = await eventually(async () => {
      const s = (await page(t)).schedule!
      return s.power?.window === 1 ? s : null
    }, 'the window to narrow to one request')
    expect(narrow.power).toMatchObject({ cap_w: 200, draw_w: 260, max_window: 8 })
    await eventually(async () => (await engineRunning(t)) === 1 || null, 'one request in flight under the cap')
    // From then on at most one at a time, however often it is looked at.
    for (let i = 0; i < 10; i++) expect(await engineRunning(t)).toBeLessThanOrEqual(1)

    fake.setGpu({ power_w: 120 })
    await eventually(async () => ((await page(t)).schedule?.power?.window === 8) || null, 'the window to widen again')
    await eventually(async () => ((await engineRunning(t)) ?? 0) >= 5 || null, 'several requests in flight again')
    await t.client.batches.cancel(b.id)
    await until(t, b.id, ['cancelled'])
  })
})

