import type { Health, Job } from '../../main/contract'
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type OpenAI from 'openai'
import { jsonl, requestLine, tempDir, type TestService } from '../helpers/service'
import { eventually, fakeServices } from '../helpers/fake-engine'
import { batchReaches as until, submitBatch as submit } from '../helpers/batches'
import { assertSchema } from '../helpers/openai-schemas'

const services = fakeServices({ retryBaseMs: 50 })
const boot = services.boot
afterEach(services.cleanup)

interface OutLine {
  id: string
  custom_id: string
  response: { status_code: number; request_id: string; body: { choices?: { message: { content: string } }[]; error?: { message: string } } } | null
  error: { code: string; message: string } | null
}

async function lines(t: TestService, fileId: string | null | undefined): Promise<OutLine[]> {
  if (!fileId) return []
  const text = await (await t.client.files.content(fileId)).text()
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as OutLine)
}

describe('batch runner', () => {
  it('runs a batch to completed; every output matched to its input by custom_id and content', async () => {
    const { t, fake } = await boot({}, { chunkSize: 40 })
    const n = 150
    const created = await submit(t, jsonl(n, 'job'))
    const done = await until(t, created.id, ['completed', 'failed'])
    assertSchema('Batch', done)
    expect(done.status).toBe('completed')
    expect(done.request_counts).toEqual({ total: n, completed: n, failed: 0 })
    expect(done.error_file_id).toBeNull()
    expect(done.finalizing_at).not.toBeNull()
    expect(done.completed_at).toBeGreaterThanOrEqual(done.finalizing_at!)
    expect(done.usage!.input_tokens).toBeGreaterThan(0)
    expect(done.usage!.total_tokens).toBe(done.usage!.input_tokens + done.usage!.output_tokens)
    const output = await lines(t, done.output_file_id)
    expect(output).toHaveLength(n)
    expect(new Set(output.map((l) => l.custom_id)).size).toBe(n)
    for (const l of output) {
      expect(l.error).toBeNull()
      expect(l.response!.status_code).toBe(200)
      expect(l.response!.body.choices![0].message.content).toBe(`echo: Say ${l.custom_id}`)
      expect(l.id).toMatch(/^batch_req_[0-9a-f]{32}$/)
    }
    const file = await t.client.files.retrieve(done.output_file_id!)
    expect(file).toMatchObject({ purpose: 'batch_output', filename: `${done.id}_output.jsonl` })
    // Batch requests went out at batch priority, behind interactive ones.
    // The fake logs each request once its answer is out: wait for the last lines.
    const sent = await eventually(() => {
      const all = fake.requests().filter((r) => r.path === '/v1/chat/completions')
      return all.length >= n ? all : null
    }, 'every request in the fake engine log')
    expect(sent).toHaveLength(n)
    expect(new Set(sent.map((r) => r.priority))).toEqual(new Set([10]))
  })
})

describe('batch runner: failures', () => {
  it('recovers every request from 5% transient engine failures', async () => {
    const { t, fake } = await boot({ FAKE_VLLM_FAILURE_RATE: '0.05' })
    const n = 200
    const done = await until(t, (await submit(t, jsonl(n, 'flaky'))).id, ['completed'])
    expect(done.request_counts).toEqual({ total: n, completed: n, failed: 0 })
    const output = await lines(t, done.output_file_id)
    expect(new Set(output.map((l) => l.custom_id)).size).toBe(n)
    const statuses = fake.requests().map((r) => (r as unknown as { status: number }).status)
    expect(statuses.filter((s) => s === 500).length).toBeGreaterThanOrEqual(10)
  })

  it('puts 4xx answers in the error file, lists them as dead letters, and retries them as a new linked batch', async () => {
    const { t } = await boot()
    const text = [requestLine('ok-1'), requestLine('bad-1', {}, { messages: [] }), requestLine('ok-2'), requestLine('bad-2', {}, { messages: [] })].join('\n')
    const done = await until(t, (await submit(t, text)).id, ['completed'])
    expect(done.request_counts).toEqual({ total: 4, completed: 2, failed: 2 })
    const errors = await lines(t, done.error_file_id)
    expect(errors.map((l) => l.custom_id)).toEqual(['bad-1', 'bad-2'])
    for (const e of errors) {
      expect(e.error).toBeNull()
      expect(e.response!.status_code).toBe(400)
      expect(e.response!.body.error!.message).toContain('messages')
    }
    expect((await lines(t, done.output_file_id)).map((l) => l.custom_id)).toEqual(['ok-1', 'ok-2'])

    const dead = (await (await t.api(`/api/batches/${done.id}/failed`)).json()) as { data: { custom_id: string; line: number; error_type: string; message: string; attempts: number }[] }
    expect(dead.data.map((d) => [d.custom_id, d.line, d.error_type, d.attempts])).toEqual([
      ['bad-1', 2, 'http_400', 1],
      ['bad-2', 4, 'http_400', 1],
    ])
    expect(dead.data[0].message).toContain('messages')

    const retry = await t.api(`/api/batches/${done.id}/retry-failed`, { method: 'POST' })
    expect(retry.status).toBe(200)
    const second = (await retry.json()) as OpenAI.Batches.Batch
    expect(second.metadata).toEqual({ retry_of: done.id })
    expect((await t.client.batches.retrieve(done.id)).metadata).toMatchObject({ retried_by: second.id })
    const input = await (await t.client.files.content(second.input_file_id)).text()
    expect(input.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { custom_id: string }).custom_id)).toEqual(['bad-1', 'bad-2'])
    const again = await until(t, second.id, ['completed'])
    expect(again.request_counts).toEqual({ total: 2, completed: 0, failed: 2 })
  })

  it('gives up on a request after max_attempts and says why in the error file', async () => {
    const { t } = await boot({ FAKE_VLLM_FAILURE_RATE: '1' }, { maxAttempts: 2 })
    const done = await until(t, (await submit(t, jsonl(3, 'doomed'))).id, ['completed'])
    expect(done.request_counts).toEqual({ total: 3, completed: 0, failed: 3 })
    expect(done.output_file_id).toBeNull()
    const errors = await lines(t, done.error_file_id)
    expect(errors).toHaveLength(3)
    for (const e of errors) {
      expect(e.response!.status_code).toBe(500)
      expect(e.response!.body.error!.message.length).toBeGreaterThan(0)
    }
    const dead = (await (await t.api(`/api/batches/${done.id}/failed`)).json()) as { data: { attempts: number; message: string }[] }
    expect(dead.data).toHaveLength(3)
    for (const d of dead.data) {
      expect(d.attempts).toBe(2)
      expect(d.message).toMatch(/^failed after 2 attempts/)
    }
  })

  it('survives the engine crashing mid-job: restarted, every request answered once', async () => {
    const { t, fake } = await boot({ FAKE_VLLM_CRASH_AFTER: '60' })
    const n = 150
    const done = await until(t, (await submit(t, jsonl(n, 'crash'))).id, ['completed'])
    expect(done.request_counts).toEqual({ total: n, completed: n, failed: 0 })
    expect(fake.launches().length).toBeGreaterThanOrEqual(3)
    const output = await lines(t, done.output_file_id)
    expect(new Set(output.map((l) => l.custom_id)).size).toBe(n)
    for (const l of output) expect(l.response!.body.choices![0].message.content).toBe(`echo: Say ${l.custom_id}`)
  })
})

describe('batch runner: holding', () => {
  it('holds a job while vLLM is missing, with the reason on the job, and runs it once vLLM is there', async () => {
    const { t, fake } = await boot({}, { vllmBin: path.join(tempDir(), 'vllm') })
    const created = await submit(t, jsonl(10, 'h'))
    const job = await eventually(async () => {
      const j = (await (await t.api(`/api/batches/${created.id}`)).json()) as Job
      return j.hold?.detail.startsWith('waiting for engine: vLLM not found') ? j : null
    }, 'the job to say why it waits')
    expect(job.status).toBe('in_progress')
    expect(job.hold?.kind).toBe('engine_unavailable')
    expect(job.hold?.detail).toContain('pip install vllm')
    expect(fake.launches()).toHaveLength(0)
    // vLLM appears (installed, or the path fixed): the job runs without anyone touching it.
    fs.symlinkSync(path.resolve('tests/fixtures/fake-vllm'), (t.service.settings.vllmBin))
    const done = await until(t, created.id, ['completed'])
    expect(done.request_counts?.completed).toBe(10)
  })
})

describe('batch runner: cancel, expiry, pause', () => {
  it('cancels mid-job: in-flight requests finish, partial output kept, the rest reported batch_cancelled', async () => {
    const { t } = await boot({ FAKE_VLLM_LATENCY_MS: '20' }, { batchConcurrency: 4 })
    const n = 400
    const created = await submit(t, jsonl(n, 'c'))
    await eventually(async () => {
      const b = await t.client.batches.retrieve(created.id)
      return (b.request_counts?.completed ?? 0) >= 20
    }, 'some progress')
    expect((await t.client.batches.cancel(created.id)).status).toBe('cancelling')
    const done = await until(t, created.id, ['cancelled'])
    const output = await lines(t, done.output_file_id)
    const errors = await lines(t, done.error_file_id)
    expect(output.length).toBeGreaterThanOrEqual(20)
    expect(output.length).toBeLessThan(n)
    expect(output.length + errors.length).toBe(n)
    expect(done.request_counts).toEqual({ total: n, completed: output.length, failed: errors.length })
    expect(new Set([...output, ...errors].map((l) => l.custom_id)).size).toBe(n)
    for (const e of errors) expect(e).toMatchObject({ response: null, error: { code: 'batch_cancelled' } })
  })

  it('expires a job past expires_at: finished results kept, the rest batch_expired', async () => {
    const { t } = await boot({ FAKE_VLLM_LATENCY_MS: '20' }, { batchConcurrency: 2 })
    t.service.scheduler.pause()
    const n = 3000 // at 20 ms and 2 at a time, about 30 s of work: it cannot end before it expires
    const created = await submit(t, jsonl(n, 'x'))
    await until(t, created.id, ['in_progress'])
    // The engine is up first (its start takes its own time on a loaded machine): the job runs at once.
    await t.client.chat.completions.create({ model: 'model-a', messages: [{ role: 'user', content: 'warm up' }] })
    t.service.store.batches.update(created.id, { expires_at: Math.floor(Date.now() / 1000) + 4 })
    t.service.scheduler.resume()
    const done = await until(t, created.id, ['expired', 'completed'])
    expect(done.status).toBe('expired')
    expect(done.expired_at).not.toBeNull()
    const output = await lines(t, done.output_file_id)
    const errors = await lines(t, done.error_file_id)
    expect(output.length).toBeGreaterThan(0)
    expect(errors.length).toBeGreaterThan(0)
    expect(output.length + errors.length).toBe(n)
    for (const e of errors) expect(e).toMatchObject({ response: null, error: { code: 'batch_expired' } })
    expect(done.request_counts).toEqual({ total: n, completed: output.length, failed: errors.length })
  })

  it('cancels a queued job at once, while another job runs', async () => {
    const { t } = await boot({ FAKE_VLLM_LATENCY_MS: '50' }, { batchConcurrency: 1 })
    const a = await submit(t, jsonl(200, 'slow'))
    await eventually(async () => ((await t.client.batches.retrieve(a.id)).request_counts?.completed ?? 0) > 0, 'job A to run')
    const b = await submit(t, jsonl(5, 'queued'))
    await until(t, b.id, ['in_progress'])
    await t.client.batches.cancel(b.id)
    const cancelled = await until(t, b.id, ['cancelled'], 30_000)
    expect((await t.client.batches.retrieve(a.id)).status).toBe('in_progress') // A still runs
    expect(cancelled.request_counts).toEqual({ total: 5, completed: 0, failed: 5 })
    const errors = await lines(t, cancelled.error_file_id)
    expect(errors.map((e) => e.error?.code)).toEqual(Array(5).fill('batch_cancelled'))
    await t.client.batches.cancel(a.id)
  })

  it('pauses and resumes batches, saying so on the job and in /health', async () => {
    const { t, fake } = await boot()
    const runnerState = async (): Promise<string | undefined> => ((await (await t.api('/health')).json()) as Health).runner?.state
    expect(await runnerState()).toBe('idle')
    await t.api('/api/batches/pause', { method: 'POST' })
    expect(await runnerState()).toBe('paused')
    const created = await submit(t, jsonl(20, 'p'))
    await eventually(async () => {
      const job = (await (await t.api(`/api/batches/${created.id}`)).json()) as Job
      return job.status === 'in_progress' && job.hold?.kind === 'paused' && job.hold.detail === 'paused: paused by the user'
    }, 'the paused job')
    expect(fake.requests()).toHaveLength(0)
    await t.api('/api/batches/resume', { method: 'POST' })
    expect((await until(t, created.id, ['completed'])).request_counts?.completed).toBe(20)
    await eventually(async () => ((await runnerState()) === 'idle' ? true : null), 'the scheduler to be idle again')
  })

  it('a pause mid-job parks the running job: nothing more is sent until resume, then it completes', async () => {
    const { t, fake } = await boot({ FAKE_VLLM_LATENCY_MS: '20' })
    const created = await submit(t, jsonl(400, 'mid'))
    await eventually(async () => ((await t.client.batches.retrieve(created.id)).request_counts?.completed ?? 0) >= 20 || null, 'the job to be under way')
    await t.api('/api/batches/pause', { method: 'POST' })
    const parked = await eventually(async () => {
      const job = (await (await t.api(`/api/batches/${created.id}`)).json()) as Job
      return job.hold?.kind === 'paused' ? job : null
    }, 'the running job to say it is paused')
    expect(parked.running).toBe(true)
    expect(((await (await t.api('/health')).json()) as Health).runner?.state).toBe('paused')
    // Requests in flight when the pause came still finish and are saved; after that nothing more goes out.
    const chats = (): number => fake.requests().filter((r) => r.path === '/v1/chat/completions').length
    const settled = await eventually(async () => {
      const completed = (await t.client.batches.retrieve(created.id)).request_counts?.completed ?? 0
      return completed === chats() ? completed : null
    }, 'the requests in flight to finish and be saved')
    expect(settled).toBeLessThan(400)
    expect(chats()).toBe(settled)
    await t.api('/api/batches/resume', { method: 'POST' })
    const done = await until(t, created.id, ['completed'])
    expect(done.request_counts).toEqual({ total: 400, completed: 400, failed: 0 })
  })

  it('runs jobs one at a time, oldest first among jobs of the loaded model, and swaps models only between jobs', async () => {
    const { t, fake } = await boot({ FAKE_VLLM_LATENCY_MS: '5' })
    // All three queued before any runs, so that the order is the queue's alone (issue 12: A, B, A run A, A, B).
    expect((await t.api('/api/batches/pause', { method: 'POST' })).status).toBe(200)
    const a = await submit(t, jsonl(60, 'a'))
    const b = await submit(t, jsonl(30, 'b').replace(/"test-model-a"/g, '"test-model-b"'))
    const c = await submit(t, jsonl(30, 'c'))
    for (const x of [a, b, c]) await until(t, x.id, ['in_progress'])
    expect((await t.api('/api/batches/resume', { method: 'POST' })).status).toBe(200)
    const done = await Promise.all([a, b, c].map((x) => until(t, x.id, ['completed'])))
    expect(done.map((d) => d.model)).toEqual(['test-model-a', 'test-model-b', 'test-model-a'])
    // C (model A, loaded) went before B, which sent nothing before both A jobs had ended.
    expect(done[2].completed_at!).toBeGreaterThanOrEqual(done[0].completed_at!)
    expect(done[1].completed_at!).toBeGreaterThanOrEqual(done[2].completed_at!)
    const order = fake.requests().filter((r) => r.path === '/v1/chat/completions').map((r) => r.model)
    // Each job's requests are contiguous and the A jobs ran back to back: the model changes exactly once.
    const switches = order.filter((m, i) => i > 0 && m !== order[i - 1]).length
    expect(switches).toBe(1)
    expect(order).toHaveLength(120)
    expect(order.slice(0, 90).every((m) => m === 'test-model-a')).toBe(true)
    expect(fake.launches().map((l) => l.served[0])).toEqual(['test-model-a', 'test-model-b'])
  })
})

describe('GPU protection and live status', () => {
  it('pauses at the pause temperature and resumes below the resume temperature, saying so on the job and in /health', async () => {
    const { t, fake } = await boot({}, { gpuPollMs: 100 })
    fake.setGpu({ temperature_c: 86 })
    await eventually(async () => ((await (await t.api('/health')).json()) as { gpu: { temperature_c: number } }).gpu.temperature_c === 86, 'the hot reading')
    const created = await submit(t, jsonl(30, 'hot'))
    const job = await eventually(async () => {
      const j = (await (await t.api(`/api/batches/${created.id}`)).json()) as Job
      return j.hold?.kind === 'thermal' && j.hold.detail.startsWith('paused: GPU 86 °C') ? j : null
    }, 'the job to say it is paused')
    expect(job.status).toBe('in_progress')
    const health = (await (await t.api('/health')).json()) as { status: string; gpu: { healthy: boolean }; runner: { paused: boolean; paused_reason: string } }
    expect(health).toMatchObject({ status: 'degraded', gpu: { healthy: false }, runner: { paused: true } })
    expect(health.runner.paused_reason).toContain('paused: GPU 86 °C')
    expect(fake.requests().filter((r) => r.path === '/v1/chat/completions')).toHaveLength(0)

    fake.setGpu({ temperature_c: 80 }) // below the pause threshold but not yet cool enough
    await eventually(async () => ((await (await t.api('/health')).json()) as { gpu: { temperature_c: number } }).gpu.temperature_c === 80, 'the 80 °C reading')
    expect(fake.requests().filter((r) => r.path === '/v1/chat/completions')).toHaveLength(0)

    fake.setGpu({ temperature_c: 70 })
    const done = await until(t, created.id, ['completed'])
    expect(done.request_counts?.completed).toBe(30)
    expect(((await (await t.api('/health')).json()) as { status: string }).status).toBe('ok')
  })

  it('streams job progress, engine state and GPU samples over /api/events, and shows GPU history', async () => {
    const { t } = await boot({ FAKE_VLLM_LATENCY_MS: '2' }, { gpuPollMs: 100, chunkSize: 50 })
    const res = await fetch(`${t.url}/api/events`, { headers: { authorization: `Bearer ${t.apiKey}` } })
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const reader = res.body!.getReader()
    const seen = new Map<string, unknown[]>()
    let buffer = ''
    const created = await submit(t, jsonl(200, 'ev'))
    const deadline = Date.now() + 60_000
    while (!(seen.get('batch.status') ?? []).some((e) => (e as { to: string }).to === 'completed') && Date.now() < deadline) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += new TextDecoder().decode(value)
      let i: number
      while ((i = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, i)
        buffer = buffer.slice(i + 2)
        const event = /^event: (.+)$/m.exec(block)?.[1]
        const data = /^data: (.+)$/m.exec(block)?.[1]
        if (event && data) seen.set(event, [...(seen.get(event) ?? []), JSON.parse(data)])
      }
    }
    await reader.cancel()
    expect(seen.has('hello')).toBe(true)
    const progress = (seen.get('batch.progress') ?? []) as { id: string; progress: { chunk: number; chunks: number; total: number } }[]
    expect(progress.some((p) => p.id === created.id && p.progress.chunks === 4 && p.progress.total === 200)).toBe(true)
    expect((seen.get('engine.state') ?? []).length).toBeGreaterThan(0)
    expect((seen.get('gpu.sample') ?? []).length).toBeGreaterThan(0)
    const gpu = (await (await t.api('/api/gpu')).json()) as { status: { available: boolean }; history: { temperatureC: number }[]; thermal: { pause_c: number } }
    expect(gpu.status.available).toBe(true)
    expect(gpu.history.length).toBeGreaterThan(1)
    expect(gpu.thermal.pause_c).toBe(83)
  })
})
