import type { Job } from '../../main/contract/jobs'
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort } from '../../main/engine/supervisor'
import { eventually, FAKE_VLLM, fakeEngineEnv, FAST_ENGINE, processGroup, type FakeEngineEnv } from '../helpers/fake-engine'
import { startService, tempDir, waitForBatch, type TestService } from '../helpers/service'

const KEY = 'remote-secret-key-7c1f'

/** fake-vllm run by hand as somebody else's OpenAI-compatible server: an API key, FCFS (no priorities). */
async function remoteServer(fake: FakeEngineEnv, port: number): Promise<ChildProcess> {
  const child = spawn(
    FAKE_VLLM,
    ['serve', 'org/remote-model', '--host', '127.0.0.1', '--port', String(port), '--served-model-name', 'upstream-name', '--api-key', KEY, '--scheduling-policy', 'fcfs'],
    { env: { ...fake.env, FAKE_VLLM_LOAD_MS: '0' }, stdio: 'ignore', detached: true },
  )
  await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => null))?.ok, 'the remote server to answer')
  return child
}

function stopServer(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    for (const pid of processGroup(child.pid!)) process.kill(pid, 'SIGKILL')
  })
}

function registry(dir: string, port: number): string {
  const file = path.join(dir, 'models.yaml')
  fs.writeFileSync(
    file,
    [
      'default: test-model-a',
      'models:',
      '  - id: test-model-a',
      '    model: test-org/test-model-a',
      '  - id: remote-a',
      '    aliases: [elsewhere]',
      '    engine: remote',
      `    base_url: http://127.0.0.1:${port}/v1`,
      '    api_key_env: REMOTE_A_KEY',
      '    served_model: upstream-name',
      '    max_concurrency: 8',
      '  - id: remote-keyless',
      '    engine: remote',
      `    base_url: http://127.0.0.1:${port}/v1`,
      '    api_key_env: NOT_SET_ANYWHERE',
      '',
    ].join('\n'),
  )
  return file
}

function batchInput(n: number): string {
  let out = ''
  for (let i = 1; i <= n; i++) {
    out += `${JSON.stringify({ custom_id: `r-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'remote-a', messages: [{ role: 'user', content: `remote ${i}` }] } })}\n`
  }
  return out
}

const servers: ChildProcess[] = []
const services: TestService[] = []
afterEach(async () => {
  for (const t of services.splice(0)) await t.stop().catch(() => undefined)
  for (const s of servers.splice(0)) await stopServer(s)
})

async function setup(knobs: Record<string, string> = {}): Promise<{ t: TestService; fake: FakeEngineEnv; port: number; dir: string }> {
  const fake = fakeEngineEnv(knobs)
  const port = await freePort()
  servers.push(await remoteServer(fake, port))
  const dir = tempDir()
  const t = await startService(
    { ...FAST_ENGINE, modelsPath: registry(dir, port), retryBaseMs: 50, remoteProbeMs: 200, remoteBackoffMaxMs: 200, engineFailCooldownMs: 0 },
    dir,
    { ...fake.env, REMOTE_A_KEY: KEY },
  )
  services.push(t)
  return { t, fake, port, dir }
}

describe('engine: remote (an OpenAI-compatible server elsewhere)', () => {
  it('serves chat and a batch through the remote with its key and served name, never sending priority or showing the key', async () => {
    const { t, fake, dir } = await setup()
    const chat = await t.client.chat.completions.create({ model: 'elsewhere', messages: [{ role: 'user', content: 'hello remote' }] })
    expect(chat.choices[0].message.content).toBeTruthy()
    // The fake logs a request once its answer is out: the line can come just after the client has the answer.
    const seen = await eventually(() => {
      const chats = fake.requests().filter((r) => r.path === '/v1/chat/completions')
      return chats.length > 0 ? chats : null
    }, 'the chat in the fake remote\'s request log')
    expect(seen.length).toBeGreaterThan(0)
    // The remote knows the model by its own name; a server without priority scheduling gets no priority.
    expect(seen.every((r) => r.model === 'upstream-name' && !(r.keys ?? []).includes('priority'))).toBe(true)

    const engine = (await (await t.api('/api/engine')).json()) as Record<string, unknown>
    expect(engine).toMatchObject({ kind: 'remote', state: 'ready', model: 'remote-a', pid: null })
    expect(String(engine.remoteUrl)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/)
    const models = (await (await t.api('/v1/models')).json()) as { data: { id: string; engine: string; loaded: boolean; capabilities: unknown }[] }
    expect(models.data.find((m) => m.id === 'remote-a')).toMatchObject({ engine: 'remote', loaded: true, capabilities: { embeddings: true, priority: false } })
    expect(models.data.find((m) => m.id === 'test-model-a')).toMatchObject({ engine: 'vllm', loaded: false, capabilities: { embeddings: true, priority: true } })

    const file = await t.client.files.create({ file: new File([batchInput(60)], 'remote.jsonl'), purpose: 'batch' })
    const created = await t.client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    const done = await waitForBatch(t.client, created.id, ['validating', 'in_progress', 'finalizing'], 90_000)
    expect(done.status).toBe('completed')
    expect(done.request_counts).toMatchObject({ total: 60, completed: 60, failed: 0 })
    const output = await (await t.client.files.content(done.output_file_id!)).text()
    expect(new Set(output.trim().split('\n').map((l) => (JSON.parse(l) as { custom_id: string }).custom_id)).size).toBe(60)

    // The key goes to the remote only: not in the status, the engine log or the service log.
    expect(JSON.stringify(engine)).not.toContain(KEY)
    for (const log of ['engine.log', 'service.log']) {
      const text = fs.readFileSync(path.join(dir, 'logs', log), 'utf8')
      expect(text).not.toContain(KEY)
    }
  })

  it('holds a job while the remote is down, with the reason on it, and finishes it when the remote is back: nothing fails', async () => {
    const { t, fake, port } = await setup({ FAKE_VLLM_LATENCY_MS: '20' })
    const file = await t.client.files.create({ file: new File([batchInput(400)], 'remote.jsonl'), purpose: 'batch' })
    const created = await t.client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    await eventually(async () => (await t.client.batches.retrieve(created.id)).request_counts!.completed >= 50, 'some results')
    await stopServer(servers.pop()!)

    const held = await eventually(async () => {
      const b = (await (await t.api(`/api/batches/${created.id}`)).json()) as Job
      return b.hold?.detail.includes('not answering') ? b : null
    }, 'the job to wait for the remote')
    expect(held.status).toBe('in_progress')
    expect(held.hold?.kind).toBe('engine_loading')
    expect(held.hold?.detail).toMatch(/remote-a at http:\/\/127\.0\.0\.1:\d+\/v1 is not answering/)
    const engine = (await (await t.api('/api/engine')).json()) as { state: string; lastError: string }
    expect(engine.state).toBe('starting')
    // An interactive request is told at once, not kept waiting.
    const refused = await t.api('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'remote-a', messages: [{ role: 'user', content: 'x' }] }) })
    expect(refused.status).toBe(503)
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('not answering')
    const stalled = (await t.client.batches.retrieve(created.id)).request_counts!
    expect(stalled.failed).toBe(0)

    servers.push(await remoteServer(fake, port))
    const done = await waitForBatch(t.client, created.id, ['validating', 'in_progress', 'finalizing'], 120_000)
    expect(done.status).toBe('completed')
    expect(done.request_counts).toMatchObject({ total: 400, completed: 400, failed: 0 })
    const ids = (await (await t.client.files.content(done.output_file_id!)).text()).trim().split('\n').map((l) => (JSON.parse(l) as { custom_id: string }).custom_id)
    expect(ids).toHaveLength(400)
    expect(new Set(ids).size).toBe(400)
  })

  it('a remote whose key variable is not set answers 503 naming the variable, and sends nothing', async () => {
    const { t, fake } = await setup()
    const before = fake.requests().length
    const res = await t.api('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'remote-keyless', messages: [{ role: 'user', content: 'x' }] }) })
    expect(res.status).toBe(503)
    const body = (await res.json()) as { error: { message: string; code: string } }
    expect(body.error.message).toContain('NOT_SET_ANYWHERE')
    expect(body.error.code).toBe('engine_unavailable')
    expect(fake.requests().length).toBe(before)
  })
})
