import type { Job } from '../../main/contract/jobs'
import fs from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import type OpenAI from 'openai'
import { jsonl, requestLine, type TestService } from '../helpers/service'
import { eventually, fakeServices } from '../helpers/fake-engine'
import { batchReaches as until, submitBatch as submit } from '../helpers/batches'

const services = fakeServices({ retryBaseMs: 50 })
const boot = services.boot
afterEach(services.cleanup)

async function job(t: TestService, id: string): Promise<Job> {
  return (await (await t.api(`/api/batches/${id}`)).json()) as Job
}

/** Why the job waits, as the window shows it. */
async function waiting(t: TestService, id: string): Promise<string> {
  return (await job(t, id)).hold?.detail ?? ''
}

async function lines(t: TestService, fileId: string | null | undefined): Promise<{ custom_id: string; response: { body: { choices: { message: { content: string } }[] } } | null; error: { code: string } | null }[]> {
  if (!fileId) return []
  const text = await (await t.client.files.content(fileId)).text()
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l))
}

/** Makes every commit of one batch's results fail inside SQLite, as a broken database would. */
function breakResultsOf(t: TestService, batchId: string): () => void {
  const seq = t.service.store.batches.seqOf(batchId)
  t.service.store.db.exec(`CREATE TRIGGER injected_fault BEFORE INSERT ON results WHEN NEW.batch_seq = ${seq} BEGIN SELECT RAISE(ABORT, 'injected fault: results cannot be written'); END`)
  return () => t.service.store.db.exec('DROP TRIGGER injected_fault')
}

describe('scheduler: an error in one job never ends the loop', () => {
  it('fails a job whose input file vanished, saying so, and runs the next job', async () => {
    const { t } = await boot()
    t.service.scheduler.pause()
    const a = await submit(t, jsonl(20, 'a'))
    const b = await submit(t, jsonl(20, 'b'))
    await until(t, a.id, ['in_progress'])
    await until(t, b.id, ['in_progress'])
    fs.rmSync(t.service.files.pathOf(a.input_file_id))
    t.service.scheduler.resume()
    const failed = await until(t, a.id, ['failed'])
    expect(failed.errors?.data?.[0]).toMatchObject({ code: 'input_file_missing' })
    expect(failed.errors?.data?.[0]?.message).toContain('input file is missing')
    const done = await until(t, b.id, ['completed'])
    expect(done.request_counts).toEqual({ total: 20, completed: 20, failed: 0 })
    expect(t.service.scheduler.beating).toBe(true)
  })

  it('holds a job whose commits fail (a timer-driven commit), runs the next, and resumes it once the fault is gone', async () => {
    const { t } = await boot({}, { batchConcurrency: 2 })
    t.service.scheduler.pause()
    const a = await submit(t, jsonl(30, 'a'))
    const b = await submit(t, jsonl(30, 'b'))
    await until(t, a.id, ['in_progress'])
    await until(t, b.id, ['in_progress'])
    const repair = breakResultsOf(t, a.id)
    t.service.scheduler.resume()
    // 30 results never reach commitRows (200): every commit is the timer's.
    const reason = await eventually(async () => {
      const w = await waiting(t, a.id)
      return w.startsWith('held after an error') ? w : null
    }, 'job A held after its commit failed')
    expect(reason).toContain('1 of 3')
    expect(reason).toContain('injected fault')
    const other = await until(t, b.id, ['completed'])
    expect(other.request_counts).toEqual({ total: 30, completed: 30, failed: 0 })
    expect(t.service.scheduler.beating).toBe(true)
    expect((await t.client.batches.retrieve(a.id)).status).toBe('in_progress')
    repair()
    const done = await until(t, a.id, ['completed'])
    expect(done.request_counts).toEqual({ total: 30, completed: 30, failed: 0 })
    const out = await lines(t, done.output_file_id)
    expect(out.map((l) => l.custom_id).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `a-${i + 1}`).sort())
    for (const l of out) expect(l.response!.body.choices[0].message.content).toBe(`echo: Say ${l.custom_id}`)
  })

  it('fails a job after the third error in a row, with the last error on it', async () => {
    const { t } = await boot()
    t.service.scheduler.pause()
    const a = await submit(t, jsonl(5, 'a'))
    await until(t, a.id, ['in_progress'])
    breakResultsOf(t, a.id)
    t.service.scheduler.resume()
    const failed = await until(t, a.id, ['failed'], 180_000)
    expect(failed.errors?.data?.[0]).toMatchObject({ code: 'server_error' })
    expect(failed.errors?.data?.[0]?.message).toMatch(/stopped on an error 3 times in a row; the last: injected fault/)
    expect(t.service.scheduler.beating).toBe(true)
    // The loop still takes work.
    const b = await submit(t, jsonl(3, 'b'))
    expect((await until(t, b.id, ['completed'])).request_counts).toEqual({ total: 3, completed: 3, failed: 0 })
  })
})

describe('/health and the scheduler loop', () => {
  it('says ok while the loop beats, and loop_not_beating (degraded) once it no longer runs', async () => {
    const { t } = await boot()
    const a = await submit(t, jsonl(3, 'a'))
    await until(t, a.id, ['completed'])
    const ok = (await (await t.api('/health')).json()) as { status: string; problems: string[]; runner: { beating: boolean; loop_error: string | null } }
    expect(ok).toMatchObject({ status: 'ok', problems: [], runner: { beating: true, loop_error: null } })
    await t.service.scheduler.stop()
    const stopped = (await (await t.api('/health')).json()) as typeof ok
    expect(stopped.status).toBe('degraded')
    expect(stopped.problems).toEqual(['loop_not_beating'])
    expect(stopped.runner.beating).toBe(false)
    // A monitor without the key sees it too.
    expect(((await (await fetch(`${t.url}/health`)).json()) as { problems: string[] }).problems).toEqual(['loop_not_beating'])
  })
})

describe('one meaning for failed', () => {
  it('counts requests that never ran as failed, lists them as dead letters, and retries them', async () => {
    const { t } = await boot({ FAKE_VLLM_LATENCY_MS: '50' }, { batchConcurrency: 1 })
    const a = await submit(t, jsonl(200, 'slow'))
    await eventually(async () => ((await t.client.batches.retrieve(a.id)).request_counts?.completed ?? 0) > 0, 'job A to run')
    const b = await submit(t, [requestLine('bad-1', {}, { messages: [] }), ...Array.from({ length: 4 }, (_, i) => requestLine(`q-${i + 1}`))].join('\n'))
    await until(t, b.id, ['in_progress'])
    await t.client.batches.cancel(b.id)
    const cancelled = await until(t, b.id, ['cancelled'])
    expect(cancelled.request_counts).toEqual({ total: 5, completed: 0, failed: 5 })
    const dead = (await (await t.api(`/api/batches/${b.id}/failed`)).json()) as { data: { custom_id: string; error_type: string; attempts: number }[] }
    expect(dead.data.map((d) => [d.custom_id, d.error_type, d.attempts])).toEqual([
      ['bad-1', 'batch_cancelled', 0],
      ['q-1', 'batch_cancelled', 0],
      ['q-2', 'batch_cancelled', 0],
      ['q-3', 'batch_cancelled', 0],
      ['q-4', 'batch_cancelled', 0],
    ])
    await t.client.batches.cancel(a.id)
    await until(t, a.id, ['cancelled'])

    const retry = await t.api(`/api/batches/${b.id}/retry-failed`, { method: 'POST' })
    expect(retry.status).toBe(200)
    const second = (await retry.json()) as OpenAI.Batches.Batch
    const again = await until(t, second.id, ['completed'])
    expect(again.request_counts).toEqual({ total: 5, completed: 4, failed: 1 })
    // Retrying the cancelled job A takes exactly the requests that did not succeed.
    const first = await t.client.batches.retrieve(a.id)
    const retryA = (await (await t.api(`/api/batches/${a.id}/retry-failed`, { method: 'POST' })).json()) as OpenAI.Batches.Batch
    const ranA = await until(t, retryA.id, ['completed'])
    expect(ranA.request_counts).toEqual({ total: first.request_counts!.failed, completed: first.request_counts!.failed, failed: 0 })
  })
})

describe('finalize is atomic', () => {
  it('a cancel that arrives while an expiry drains ends the batch as expired; every file announced exists', async () => {
    const { t } = await boot({ FAKE_VLLM_LATENCY_MS: '10000' }, { batchConcurrency: 2 })
    const announced: string[] = []
    t.service.events.on('file.created', (f) => announced.push(f.id))
    expect((await t.api('/api/engine/start', { method: 'POST' })).status).toBe(202)
    await eventually(async () => ((await (await t.api('/api/engine')).json()) as { state: string }).state === 'ready', 'the engine to be ready')
    t.service.scheduler.pause()
    const created = await submit(t, jsonl(6, 'x'))
    await until(t, created.id, ['in_progress'])
    const expiresAt = Math.floor(Date.now() / 1000) + 3
    t.service.store.batches.update(created.id, { expires_at: expiresAt })
    t.service.scheduler.resume()
    // The two requests in flight take 10 s; the expiry (3 s) stops the job and drains them; cancel meanwhile.
    await eventually(() => Date.now() / 1000 > expiresAt + 1, 'the expiry to pass')
    const cancelling = await t.client.batches.cancel(created.id)
    expect(cancelling.status).toBe('cancelling')
    const done = await until(t, created.id, ['expired', 'cancelled'])
    expect(done.status).toBe('expired')
    expect(done.request_counts!.total).toBe(6)
    expect(done.request_counts!.completed + done.request_counts!.failed).toBe(6)
    expect(done.error_file_id).not.toBeNull()
    expect(announced.length).toBeGreaterThan(0)
    for (const id of announced) expect((await t.api(`/v1/files/${id}`)).status).toBe(200)
    expect(announced).toContain(done.error_file_id)
    // No bytes without a file object, and none of the batch's outputs twice.
    const stored = fs.readdirSync(t.service.files.dir).filter((n) => n.startsWith('file-'))
    const listed = (await t.client.files.list()).data.map((f) => f.id)
    expect(stored.sort()).toEqual([...listed].sort())
  })
})
