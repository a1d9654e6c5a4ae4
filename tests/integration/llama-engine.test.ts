// The embedded llama.cpp engine through the whole service: the production supervisor starts our llama.cpp
// child on tiny GGUF models the test writes (seeded random weights), and real tokens flow through the proxy
// and the batch runner. Nothing is downloaded: the "hub" is a local server.
import type { Job } from '../../main/contract/jobs'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import type OpenAI from 'openai'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../main/engine/supervisor'
import { alive, eventually, processGroup } from '../helpers/fake-engine'
import { startService, tempDir, waitForBatch, type TestService } from '../helpers/service'
import { writeTinyGguf } from '../helpers/tiny-gguf'

const models = tempDir('vbs-gguf-')
const A = path.join(models, 'tiny-a.gguf')
const B = path.join(models, 'tiny-b.gguf')
const HUB_FILE = path.join(models, 'hub-source.gguf')
const BROKEN = path.join(models, 'broken.gguf')

interface Hub {
  url: string
  requests: string[]
  /** Lets the held half of the next download go out. */
  release: () => void
  close: () => Promise<void>
}

/**
 * A stand-in for Hugging Face: serves the tiny model at /<user>/<repo>/resolve/main/<file>. The first download
 * sends half the file and then waits for release(), so a test can see the progress of a download under way.
 */
async function startHub(): Promise<Hub> {
  const body = fs.readFileSync(HUB_FILE)
  const requests: string[] = []
  let release: () => void = () => undefined
  let held = false
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}${req.headers.range ? ` ${req.headers.range}` : ''}`)
    if (req.url !== '/test-org/tiny-repo/resolve/main/tiny-hub.gguf') {
      res.writeHead(404).end('not found')
      return
    }
    res.writeHead(200, { 'content-length': body.length, etag: '"tiny-hub-1"', 'content-type': 'application/octet-stream' })
    if (held) return void res.end(body)
    held = true
    const half = Math.floor(body.length / 2)
    res.write(body.subarray(0, half))
    release = () => res.end(body.subarray(half))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    release: () => release(),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

function registry(dir: string, extra: string[] = []): string {
  const llama = (id: string, model: string, more: string[] = []): string[] => [
    `  - id: ${id}`,
    '    engine: llama.cpp',
    `    model: ${model}`,
    '    threads: 1',
    '    gpu_layers: 0',
    '    context_size: 1024',
    ...more,
  ]
  const file = path.join(dir, 'models.yaml')
  fs.writeFileSync(
    file,
    [
      'default: tiny-a',
      'models:',
      ...llama('tiny-a', A, ['    parallel: 2', '    aliases: [tiny]']),
      ...llama('tiny-b', B, ['    parallel: 2']),
      ...llama('tiny-one', A, ['    parallel: 1']),
      ...llama('tiny-hub', 'hf:test-org/tiny-repo/tiny-hub.gguf'),
      ...llama('tiny-missing', 'hf:test-org/tiny-repo/not-there.gguf'),
      ...llama('broken', BROKEN),
      ...llama('warm-a', A, ['    sleep: true']),
      ...llama('warm-b', B, ['    sleep: true']),
      ...extra,
      '',
    ].join('\n'),
  )
  return file
}

let hub: Hub
beforeAll(async () => {
  writeTinyGguf(A, { seed: 1 })
  writeTinyGguf(B, { seed: 2 })
  writeTinyGguf(HUB_FILE, { seed: 3 })
  // A GGUF whose header promises more than the file holds: llama.cpp refuses (or aborts) while loading.
  fs.writeFileSync(BROKEN, fs.readFileSync(A).subarray(0, 4096))
  hub = await startHub()
})
afterAll(async () => {
  await hub.close()
  fs.rmSync(models, { recursive: true, force: true })
})

const services: TestService[] = []
afterEach(async () => {
  for (const t of services.splice(0)) {
    const pid = t.service.engine.status().pid
    await t.stop().catch(() => undefined)
    if (pid) for (const p of processGroup(pid)) process.kill(p, 'SIGKILL')
  }
})

async function boot(settings: Record<string, unknown> = {}, env: Record<string, string> = {}): Promise<TestService> {
  const dir = tempDir()
  const t = await startService(
    {
      modelsPath: registry(dir),
      // No vLLM on this machine: llama.cpp models run anyway.
      vllmBin: path.join(dir, 'no-vllm-here'),
      hfEndpoint: hub.url,
      engineHealthPollMs: 100,
      engineRestartBackoffMs: 200,
      engineStopGraceMs: 10_000,
      engineWaitMs: 90_000,
      engineFailCooldownMs: 0,
      retryBaseMs: 50,
      ...settings,
    },
    dir,
    { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  )
  services.push(t)
  return t
}

interface EngineBody {
  kind: string
  state: string
  model: string | null
  pid: number | null
  port: number | null
  phase: string | null
  lastError: string | null
  logTail: string[]
  download: { receivedBytes: number; totalBytes: number | null; state: string } | null
}
const engineOf = async (t: TestService): Promise<EngineBody> => (await (await t.api('/api/engine')).json()) as EngineBody

const hello = [{ role: 'user' as const, content: 'hello there, how are you' }]

function lines(n: number, model: string, body: Record<string, unknown> = {}): string {
  let out = ''
  for (let i = 1; i <= n; i++) {
    out += `${JSON.stringify({ custom_id: `q-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: `question number ${i} is about the word one` }], temperature: 0, max_tokens: 8, ...body } })}\n`
  }
  return out
}

async function submit(t: TestService, input: string): Promise<string> {
  const file = await t.client.files.create({ file: new File([input], 'batch.jsonl'), purpose: 'batch' })
  const batch = await t.client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
  return batch.id
}

async function outputOf(t: TestService, batch: OpenAI.Batches.Batch): Promise<{ custom_id: string; response: { status_code: number; body: OpenAI.Chat.ChatCompletion } }[]> {
  const text = await (await t.client.files.content(batch.output_file_id!)).text()
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { custom_id: string; response: { status_code: number; body: OpenAI.Chat.ChatCompletion } })
}

describe('engine: llama.cpp (our child process on a tiny GGUF)', () => {
  it('answers chat (whole and streamed), completions and embeddings through the service, and says which engine runs', async () => {
    const t = await boot({}, { VBS_ADMIN_KEY: 'admin-key-from-the-environment-0123456789', HF_TOKEN: 'hf_token_0123456789' })
    const chat = await t.client.chat.completions.create({ model: 'tiny', messages: hello, temperature: 0, max_tokens: 12 })
    expect(chat.model).toBe('tiny-a')
    expect(chat.choices[0].finish_reason).toBe('length')
    expect(chat.usage!.completion_tokens).toBe(12)
    expect(chat.usage!.prompt_tokens).toBeGreaterThan(5)
    expect(chat.choices[0].message.content!.length).toBeGreaterThan(0)

    // Streamed through the proxy chunk by chunk: the same text as the whole answer at temperature 0.
    const stream = await t.client.chat.completions.create({ model: 'tiny-a', messages: hello, temperature: 0, max_tokens: 12, stream: true })
    let text = ''
    let chunks = 0
    let finish: string | null = null
    for await (const c of stream) {
      chunks += 1
      text += c.choices[0]?.delta?.content ?? ''
      finish = c.choices[0]?.finish_reason ?? finish
    }
    expect(chunks).toBeGreaterThan(3)
    expect(text).toBe(chat.choices[0].message.content)
    expect(finish).toBe('length')

    // A seed repeats a sampled answer.
    const seeded = () => t.client.chat.completions.create({ model: 'tiny-a', messages: hello, temperature: 0.9, seed: 42, max_tokens: 16 })
    expect((await seeded()).choices[0].message.content).toBe((await seeded()).choices[0].message.content)

    const completion = await t.client.completions.create({ model: 'tiny-a', prompt: 'the word of the day is', max_tokens: 6, temperature: 0 })
    expect(completion.choices[0].finish_reason).toBe('length')
    expect(completion.usage!.completion_tokens).toBe(6)

    const floats = await t.client.embeddings.create({ model: 'tiny-a', input: ['one word', 'two words'], encoding_format: 'float' })
    expect(floats.data).toHaveLength(2)
    expect(floats.data[0].embedding).toHaveLength(64)
    const b64 = (await t.api('/v1/embeddings', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny-a', input: 'one word', encoding_format: 'base64' }) }))
    const raw = Buffer.from(((await b64.json()) as { data: { embedding: string }[] }).data[0].embedding, 'base64')
    const decoded = Array.from(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4))
    decoded.forEach((v, i) => expect(v).toBeCloseTo(floats.data[0].embedding[i], 5))

    const engine = await engineOf(t)
    expect(engine).toMatchObject({ kind: 'llama.cpp', state: 'ready', model: 'tiny-a' })
    expect(alive(engine.pid!)).toBe(true)
    expect(engine.logTail.some((l) => l.includes('llama.cpp: server ready on'))).toBe(true)
    const listed = (await (await t.api('/v1/models')).json()) as { data: { id: string; engine: string; loaded: boolean; downloaded: boolean | null }[] }
    expect(listed.data.find((m) => m.id === 'tiny-a')).toMatchObject({ engine: 'llama.cpp', loaded: true, downloaded: null })
    expect(listed.data.find((m) => m.id === 'tiny-hub')).toMatchObject({ engine: 'llama.cpp', loaded: false, downloaded: false })
    const metrics = await (await t.api('/metrics')).text()
    expect(metrics).toMatch(/^llamacpp:generation_tokens_total\{[^}]*\} \d+/m)

    // The child answers only to the service: its launch key came by the environment, which holds none of ours.
    const direct = `http://127.0.0.1:${engine.port}`
    expect((await fetch(`${direct}/v1/models`)).status).toBe(401)
    expect((await fetch(`${direct}/v1/models`, { headers: { authorization: `Bearer ${t.apiKey}` } })).status).toBe(401)
    expect((await fetch(`${direct}/health`)).status).toBe(200)
    const environ = Object.fromEntries(
      fs.readFileSync(`/proc/${engine.pid}/environ`, 'utf8').split('\0').filter(Boolean).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    )
    expect(Object.keys(environ).filter((k) => k.startsWith('VBS_') || k === 'HF_TOKEN')).toEqual([])
    expect((await fetch(`${direct}/v1/models`, { headers: { authorization: `Bearer ${environ.LLAMA_API_KEY}` } })).status).toBe(200)
    expect(fs.readFileSync(`/proc/${engine.pid}/cmdline`, 'utf8')).not.toContain(environ.LLAMA_API_KEY)
  })

  it('runs a 300-request batch to completed with every answer and the usage summed', async () => {
    const t = await boot()
    const id = await submit(t, lines(300, 'tiny-a'))
    const done = await waitForBatch(t.client, id, ['validating', 'in_progress', 'finalizing'], 300_000)
    expect(done.status).toBe('completed')
    expect(done.request_counts).toMatchObject({ total: 300, completed: 300, failed: 0 })
    const out = await outputOf(t, done)
    expect(out.map((o) => o.custom_id).sort()).toEqual(Array.from({ length: 300 }, (_, i) => `q-${i + 1}`).sort())
    expect(out.every((o) => o.response.status_code === 200 && o.response.body.usage!.completion_tokens === 8)).toBe(true)
    const input = out.reduce((n, o) => n + o.response.body.usage!.prompt_tokens, 0)
    const usage = (done as unknown as { usage: { input_tokens: number; output_tokens: number; total_tokens: number } }).usage
    expect(usage).toMatchObject({ input_tokens: input, output_tokens: 300 * 8, total_tokens: input + 300 * 8 })
  })

  it('recovers from a SIGKILL of the llama.cpp child mid-batch: nothing lost, nothing twice', async () => {
    const t = await boot()
    const id = await submit(t, lines(300, 'tiny-a', { max_tokens: 16 }))
    await eventually(async () => (await t.client.batches.retrieve(id)).request_counts!.completed >= 60, 'a fifth of the batch')
    const before = await engineOf(t)
    for (const pid of processGroup(before.pid!)) process.kill(pid, 'SIGKILL')
    await eventually(async () => {
      const e = await engineOf(t)
      return e.state === 'ready' && e.pid !== before.pid ? e : null
    }, 'the child to be restarted')
    const done = await waitForBatch(t.client, id, ['validating', 'in_progress', 'finalizing'], 300_000)
    expect(done.status).toBe('completed')
    expect(done.request_counts).toMatchObject({ total: 300, completed: 300, failed: 0 })
    const ids = (await outputOf(t, done)).map((o) => o.custom_id)
    expect(ids).toHaveLength(300)
    expect(new Set(ids).size).toBe(300)
    expect((await engineOf(t)).logTail.join('\n')).toMatch(/llama\.cpp exited unexpectedly|killed by SIGKILL/)
  })

  it('swaps between two GGUF models, one child at a time, each answering as itself', async () => {
    const t = await boot()
    const ask = async (model: string): Promise<string> =>
      (await t.client.chat.completions.create({ model, messages: hello, temperature: 0, max_tokens: 16 })).choices[0].message.content!
    const a1 = await ask('tiny-a')
    const pidA = (await engineOf(t)).pid!
    const b = await ask('tiny-b')
    const engineB = await engineOf(t)
    expect(engineB).toMatchObject({ kind: 'llama.cpp', state: 'ready', model: 'tiny-b' })
    expect(engineB.pid).not.toBe(pidA)
    expect(alive(pidA)).toBe(false)
    expect(b).not.toBe(a1) // other weights, other text
    expect(await ask('tiny-a')).toBe(a1)
  })

  it('keeps models with sleep: true loaded across a switch: the way back reuses the child, which answers as before', async () => {
    const t = await boot({ warmPoolGb: 1 })
    const ask = async (model: string): Promise<string> =>
      (await t.client.chat.completions.create({ model, messages: hello, temperature: 0, max_tokens: 16 })).choices[0].message.content!
    const a1 = await ask('warm-a')
    const pidA = (await engineOf(t)).pid!
    const b = await ask('warm-b')
    const whileB = t.service.engine.status()
    expect(whileB).toMatchObject({ kind: 'llama.cpp', state: 'ready', model: 'warm-b' })
    expect(whileB.pool.map((w) => [w.model, w.state, w.pid === pidA])).toEqual([
      ['warm-b', 'ready', false],
      ['warm-a', 'sleeping', true],
    ])
    // Its RAM estimate is the GGUF file's size.
    expect(whileB.pool[1].ramGb).toBeCloseTo(fs.statSync(A).size / 1024 ** 3, 3)
    expect(alive(pidA)).toBe(true)
    expect(b).not.toBe(a1)
    expect(await ask('warm-a')).toBe(a1)
    expect(await engineOf(t)).toMatchObject({ state: 'ready', model: 'warm-a', pid: pidA })
    expect(t.service.engine.status().pool.map((w) => [w.model, w.state])).toEqual([
      ['warm-a', 'ready'],
      ['warm-b', 'sleeping'],
    ])
    // A model without sleep: true is not kept: the switch to it stops the awake one only if it may not sleep.
    await ask('tiny-b')
    expect(t.service.engine.status().pool.map((w) => [w.model, w.state])).toEqual([
      ['tiny-b', 'ready'],
      ['warm-a', 'sleeping'],
      ['warm-b', 'sleeping'],
    ])
    await t.stop()
    for (const w of whileB.pool) expect(processGroup(w.pid!)).toEqual([])
  })

  it('lets interactive requests overtake a running batch (lower priority first in the child)', async () => {
    // One sequence, eight batch requests in flight: seven of them wait in the child's queue.
    const t = await boot({ batchConcurrency: 8 })
    const id = await submit(t, lines(60, 'tiny-one', { max_tokens: 48 }))
    await eventually(async () => (await t.client.batches.retrieve(id)).request_counts!.completed >= 3, 'the batch to run')
    const before = (await t.client.batches.retrieve(id)).request_counts!.completed
    const answer = await t.client.chat.completions.create({ model: 'tiny-one', messages: hello, temperature: 0, max_tokens: 4 })
    const after = await t.client.batches.retrieve(id)
    expect(answer.choices[0].message.content!.length).toBeGreaterThan(0)
    expect(after.status).toBe('in_progress')
    // Behind the seven queued batch requests it would have waited for seven answers; ahead of them, for at
    // most the one being generated (and one committed late).
    expect(after.request_counts!.completed - before).toBeLessThanOrEqual(3)
  })

  it('downloads an hf: model when a batch first needs it, with progress on the job and in /api/engine, then runs it', async () => {
    const t = await boot()
    const id = await submit(t, lines(20, 'tiny-hub'))
    const size = fs.statSync(HUB_FILE).size
    // The stand-in hub sends the first half and holds: the progress reaches exactly that (it may be seen on the
    // way, the half arriving in several pieces on a loaded machine).
    const during = await eventually(async () => {
      const e = await engineOf(t)
      return e.phase === 'downloading model' && e.download && e.download.receivedBytes === Math.floor(size / 2) ? e : null
    }, 'the download to show the first half received')
    expect(during.download).toMatchObject({ totalBytes: size, state: 'downloading', receivedBytes: Math.floor(size / 2) })
    const job = (await (await t.api(`/api/batches/${id}`)).json()) as Job
    expect(job.status).toBe('in_progress')
    expect(job.hold?.kind).toBe('engine_loading')
    // Progress events come at most 4 a second, so the job may name an earlier point of the same download.
    expect(job.hold?.detail).toMatch(/^waiting for engine: downloading tiny-hub \(0\.\d of 0\.\d MB, \d+%\)$/)
    hub.release()
    const done = await waitForBatch(t.client, id, ['validating', 'in_progress', 'finalizing'], 120_000)
    expect(done.request_counts).toMatchObject({ total: 20, completed: 20, failed: 0 })
    const stored = path.join(t.dataDir, 'models', 'test-org', 'tiny-repo', 'tiny-hub.gguf')
    expect(fs.readFileSync(stored).equals(fs.readFileSync(HUB_FILE))).toBe(true)
    const chat = await t.client.chat.completions.create({ model: 'tiny-hub', messages: hello, max_tokens: 4 })
    expect(chat.usage!.completion_tokens).toBe(4)
    const listed = (await (await t.api('/v1/models')).json()) as { data: { id: string; downloaded: boolean | null }[] }
    expect(listed.data.find((m) => m.id === 'tiny-hub')!.downloaded).toBe(true)
    // Present now: a download request has nothing to fetch.
    const again = await t.api('/api/models/tiny-hub/download', { method: 'POST' })
    expect(again.status).toBe(200)
    expect(((await again.json()) as { downloaded: boolean }).downloaded).toBe(true)
    expect(hub.requests.filter((r) => r.includes('tiny-hub.gguf'))).toHaveLength(1)
  })

  it('a file that is not on the hub, or no network, fails with where to put the file by hand; the service stays up', async () => {
    const t = await boot()
    const missing = await t.client.chat.completions.create({ model: 'tiny-missing', messages: hello, max_tokens: 4 }).catch((e: unknown) => e)
    expect((missing as { status: number }).status).toBe(503)
    const where = path.join(t.dataDir, 'models', 'test-org', 'tiny-repo', 'not-there.gguf')
    expect(String((missing as Error).message)).toContain(where)
    expect((await engineOf(t)).lastError).toContain('does not exist on the hub')

    const closed = await freePort()
    const offline = await boot({ hfEndpoint: `http://127.0.0.1:${closed}` })
    const err = await offline.client.chat.completions.create({ model: 'tiny-hub', messages: hello, max_tokens: 4 }).catch((e: unknown) => e)
    expect((err as { status: number }).status).toBe(503)
    expect(String((err as Error).message)).toContain(path.join(offline.dataDir, 'models', 'test-org', 'tiny-repo', 'tiny-hub.gguf'))
    expect((await (await fetch(`${offline.url}/health`)).json()) as { status: string }).toBeTruthy()
    // Other models still run.
    expect((await offline.client.chat.completions.create({ model: 'tiny-a', messages: hello, max_tokens: 2 })).usage!.completion_tokens).toBe(2)
  })

  it('a malformed GGUF costs the child, never the service: the engine fails with the log, the next model runs', async () => {
    const t = await boot()
    const err = await t.client.chat.completions.create({ model: 'broken', messages: hello, max_tokens: 4 }).catch((e: unknown) => e)
    expect((err as { status: number }).status).toBe(503)
    const engine = await engineOf(t)
    expect(engine).toMatchObject({ kind: 'llama.cpp', state: 'failed', model: 'broken' })
    expect(engine.lastError).toMatch(/^llama\.cpp exited while loading broken/)
    expect((await fetch(`${t.url}/health`)).status).toBe(200)
    const ok = await t.client.chat.completions.create({ model: 'tiny-a', messages: hello, max_tokens: 3 })
    expect(ok.usage!.completion_tokens).toBe(3)
  })

  it('with vLLM missing, the embedded llama.cpp model is the default a plain start runs', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'models.yaml')
    fs.writeFileSync(file, ['default: big', 'embedded_default: small', 'models:', '  - id: big', '    model: org/big', '  - id: small', '    engine: llama.cpp', `    model: ${A}`, '    threads: 1', '    gpu_layers: 0', ''].join('\n'))
    const fresh = await boot({ modelsPath: file })
    const res = await fresh.api('/api/engine/start', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    expect(res.status).toBe(202)
    await eventually(async () => {
      const e = await engineOf(fresh)
      return e.state === 'ready' && e.model === 'small'
    }, 'the embedded default to run')
    const body = (await (await fresh.api('/api/engine')).json()) as { defaultModel: string }
    expect(body.defaultModel).toBe('small')
    // The vLLM model still says why it cannot run.
    const big = await fresh.client.chat.completions.create({ model: 'big', messages: hello }).catch((e: unknown) => e)
    expect((big as { status: number }).status).toBe(503)
    expect(String((big as Error).message)).toContain('vLLM not found')
  })
})
