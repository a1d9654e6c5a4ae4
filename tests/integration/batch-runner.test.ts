import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import OpenAI, { toFile } from 'openai'
import { jsonl, requestLine, startService, tempDir, type TestService } from '../helpers/service'
import { eventually, FAST_ENGINE, fakeEngineEnv, processGroup, type FakeEngineEnv } from '../helpers/fake-engine'
import { assertSchema } from '../helpers/openai-schemas'
import type { Settings } from '../../main/config/settings'

const running: { t: TestService; fake: FakeEngineEnv }[] = []
afterEach(async () => {
  for (const { t, fake } of running.splice(0)) {
    await t.stop().catch(() => undefined)
    for (const l of fake.launches()) for (const pid of processGroup(l.pid)) process.kill(pid, 'SIGKILL')
  }
})

async function boot(knobs: Record<string, string> = {}, settings: Partial<Settings> = {}, dataDir = tempDir()): Promise<{ t: TestService; fake: FakeEngineEnv }> {
  const fake = fakeEngineEnv(knobs)
  const t = await startService({ ...FAST_ENGINE, retryBaseMs: 50, ...settings }, dataDir, fake.env)
  const pair = { t, fake }
  running.push(pair)
  return pair
}

async function submit(t: TestService, text: string): Promise<OpenAI.Batches.Batch> {
  const file = await t.client.files.create({ file: await toFile(Buffer.from(text), 'in.jsonl'), purpose: 'batch' })
  return t.client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
}

async function until(t: TestService, id: string, statuses: string[], timeoutMs = 120_000): Promise<OpenAI.Batches.Batch> {
  return eventually(async () => {
    const b = await t.client.batches.retrieve(id)
    return statuses.includes(b.status) ? b : null
  }, `batch ${id} to reach ${statuses.join('/')}`, timeoutMs)
}

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
    const sent = fake.requests().filter((r) => r.path === '/v1/chat/completions')
    expect(sent).toHaveLength(n)
    expect(new Set(sent.map((r) => r.priority))).toEqual(new Set([10]))
  })
})
