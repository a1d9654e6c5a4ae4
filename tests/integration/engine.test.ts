import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import OpenAI from 'openai'
import { jsonl, startService, tempDir, TEST_MODELS, type TestService } from '../helpers/service'
import { batchReaches, submitBatch } from '../helpers/batches'
import { alive, childrenOf, eventually, FAST_ENGINE, fakeEngineEnv, fakeServices, processGroup, serveEnvWithFake } from '../helpers/fake-engine'

interface EngineStatusBody {
  state: string
  model: string | null
  pid: number | null
  port: number | null
  phase: string | null
  uptimeS: number | null
  lastError: string | null
  logTail: string[]
  registry: { path: string; error: string | null }
}

const services = fakeServices()
const boot = services.boot
afterEach(services.cleanup)

async function engineStatus(t: TestService): Promise<EngineStatusBody> {
  return (await (await t.api('/api/engine')).json()) as EngineStatusBody
}

async function waitForState(t: TestService, state: string, timeoutMs = 60_000): Promise<EngineStatusBody> {
  return eventually(async () => {
    const s = await engineStatus(t)
    return s.state === state ? s : null
  }, `engine state ${state}`, timeoutMs)
}

const chat = (t: TestService, model: string, text: string): Promise<OpenAI.Chat.Completions.ChatCompletion> =>
  t.client.chat.completions.create({ model, messages: [{ role: 'user', content: text }] })

describe('engine supervisor with the fake vLLM', () => {
  it('starts to ready through /api/engine with phase, pid, uptime and log tail, and reports it everywhere', async () => {
    const { t, fake } = await boot({ FAKE_VLLM_LOAD_MS: '600' })
    const started = await t.api('/api/engine/start', { method: 'POST', body: JSON.stringify({ model: 'model-a' }), headers: { 'content-type': 'application/json' } })
    expect(started.status).toBe(202)
    const loading = await eventually(async () => {
      const s = await engineStatus(t)
      return s.state === 'starting' && s.phase !== 'starting process' ? s : null
    }, 'a loading phase read from the log')
    expect(['loading weights', 'compiling', 'allocating KV cache', 'capturing CUDA graphs', 'starting API server']).toContain(loading.phase)

    const ready = await waitForState(t, 'ready')
    expect(ready).toMatchObject({ model: 'test-model-a', phase: 'ready', lastError: null })
    expect(alive(ready.pid!)).toBe(true)
    expect(ready.logTail.join('\n')).toContain('Application startup complete')
    const launch = fake.launches()
    expect(launch).toHaveLength(1)
    expect(launch[0].argv).toEqual(expect.arrayContaining(['test-org/test-model-a', '--host', '127.0.0.1', '--served-model-name', 'test-model-a', '--scheduling-policy', 'priority']))
    expect(fs.readFileSync(path.join(t.dataDir, 'logs', 'engine.log'), 'utf8')).toContain('Application startup complete')

    const health = (await (await t.api('/health')).json()) as { engine: { state: string; model: string } }
    expect(health.engine).toMatchObject({ state: 'ready', model: 'test-model-a' })
    const models = await t.client.models.list()
    const a = models.data.find((m) => m.id === 'test-model-a') as unknown as { loaded: boolean; aliases: string[] }
    expect(a.loaded).toBe(true)
    expect(a.aliases).toEqual(['model-a', 'a-alias'])
    expect((models.data.find((m) => m.id === 'test-model-b') as unknown as { loaded: boolean }).loaded).toBe(false)
  })

  it('proxies chat non-streamed and streamed through the SDK, alias rewritten, every field passed, interactive priority', async () => {
    const { t, fake } = await boot()
    const reply = await t.client.chat.completions.create({
      model: 'a-alias',
      messages: [{ role: 'user', content: 'hello there' }],
      // vLLM's own fields must reach the engine untouched.
      ...({ top_k: 5, repetition_penalty: 1.1 } as Record<string, unknown>),
    })
    expect(reply.choices[0].message.content).toBe('echo: hello there')
    expect(reply.model).toBe('test-model-a')
    // The fake logs a request once its answer is out: wait for the line.
    const sent = await eventually(() => fake.requests().find((r) => r.path === '/v1/chat/completions'), 'the request log line')
    expect(sent).toMatchObject({ model: 'test-model-a', priority: 0 })
    expect(sent.keys).toEqual(expect.arrayContaining(['top_k', 'repetition_penalty', 'messages']))

    const stream = await t.client.chat.completions.create({ model: 'model-a', messages: [{ role: 'user', content: 'one two three four' }], stream: true })
    const parts: string[] = []
    let chunks = 0
    for await (const chunk of stream) {
      chunks += 1
      parts.push(chunk.choices[0]?.delta?.content ?? '')
    }
    expect(chunks).toBeGreaterThan(2)
    expect(parts.join('')).toBe('echo: one two three four')

    const completion = await t.client.completions.create({ model: 'test-model-a', prompt: 'once' })
    expect(completion.choices[0].text).toBe('echo: once')
    const embedding = await t.client.embeddings.create({ model: 'model-a', input: ['alpha', 'beta'] })
    expect(embedding.data).toHaveLength(2)
    expect(embedding.data[0].embedding.length).toBeGreaterThan(0)
    const floats = await t.client.embeddings.create({ model: 'model-a', input: ['alpha'], encoding_format: 'float' })
    expect(floats.data[0].embedding[0]).toBeCloseTo(embedding.data[0].embedding[0], 5)
  })

  it('switches and stops through /api/engine, naming bad requests', async () => {
    const { t, fake } = await boot()
    const post = (route: string, body: unknown): Promise<Response> =>
      t.api(route, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
    expect((await post('/api/engine/start', {})).status).toBe(202)
    expect(await waitForState(t, 'ready')).toMatchObject({ model: 'test-model-a' }) // the registry's default
    expect((await post('/api/engine/switch', {})).status).toBe(400)
    const unknown = await post('/api/engine/switch', { model: 'nope' })
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as { error: { code: string | null; param: string } }).error.param).toBe('model')
    expect((await post('/api/engine/switch', { model: 'model-b' })).status).toBe(202)
    await eventually(async () => (await engineStatus(t)).model === 'test-model-b' && (await engineStatus(t)).state === 'ready', 'the switch to B')
    const stopped = await post('/api/engine/stop', {})
    expect(stopped.status).toBe(200)
    expect(((await stopped.json()) as { state: string }).state).toBe('stopped')
    for (const l of fake.launches()) expect(processGroup(l.pid)).toEqual([])
  })

  it('retrieves one model by id or alias, a slash in the name included', async () => {
    const dataDir = tempDir()
    const models = path.join(dataDir, 'slash-models.yaml')
    fs.writeFileSync(models, 'models:\n  - id: m1\n    aliases: [org/m-one]\n    model: org/m1\n')
    const { t } = await boot({}, { modelsPath: models }, dataDir)
    const byAlias = await t.client.models.retrieve('org/m-one')
    expect(byAlias).toMatchObject({ id: 'm1', object: 'model', aliases: ['org/m-one'] })
    expect((await t.client.models.retrieve('m1')).id).toBe('m1')
    const missing = (await t.client.models.retrieve('nope/nothing').catch((e: unknown) => e)) as InstanceType<typeof OpenAI.NotFoundError>
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError)
  })

  it('answers an unknown model with 404 model_not_found and a missing model with 400', async () => {
    const { t, fake } = await boot()
    const e = (await chat(t, 'gpt-4o', 'x').catch((err: unknown) => err)) as InstanceType<typeof OpenAI.NotFoundError>
    expect(e).toBeInstanceOf(OpenAI.NotFoundError)
    expect(e.error).toMatchObject({ code: 'model_not_found', param: 'model' })
    const res = await t.api('/v1/chat/completions', { method: 'POST', body: JSON.stringify({ messages: [] }), headers: { 'content-type': 'application/json' } })
    expect(res.status).toBe(400)
    expect(fake.launches()).toHaveLength(0)
  })

  it('swaps A to B once for 8 concurrent requests, all served, A fully gone', async () => {
    const { t, fake } = await boot()
    await chat(t, 'model-a', 'warm up')
    const a = (await engineStatus(t)).pid!
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => chat(t, 'model-b', `request ${i}`)))
    expect(replies.map((r) => r.choices[0].message.content)).toEqual(Array.from({ length: 8 }, (_, i) => `echo: request ${i}`))
    const launches = fake.launches()
    expect(launches.map((l) => l.served[0])).toEqual(['test-model-a', 'test-model-b'])
    expect(processGroup(a)).toEqual([])
    const s = await engineStatus(t)
    expect(s).toMatchObject({ state: 'ready', model: 'test-model-b' })
  })

  it('recovers from SIGKILL of vLLM: the orphaned EngineCore is ended and the model restarted', async () => {
    const { t, fake } = await boot()
    await chat(t, 'model-a', 'before')
    const first = (await engineStatus(t)).pid!
    const cores = childrenOf(first)
    expect(cores.length).toBeGreaterThan(0)
    process.kill(first, 'SIGKILL')
    const back = await eventually(async () => {
      const s = await engineStatus(t)
      return s.state === 'ready' && s.pid !== first ? s : null
    }, 'a restarted engine')
    for (const core of cores) expect(alive(core)).toBe(false)
    expect(processGroup(first)).toEqual([])
    expect(fake.launches()).toHaveLength(2)
    expect(back.lastError).toBeNull()
    expect((await chat(t, 'model-a', 'after')).choices[0].message.content).toBe('echo: after')
  })

  it('gives up after too many crashes, with the reason, instead of thrashing', async () => {
    const { t, fake } = await boot({ FAKE_VLLM_CRASH_AFTER: '1' }, { engineRestartLimit: 2, engineRestartBackoffMs: 50 })
    await chat(t, 'model-a', 'one')
    // Each restart crashes on its first request again.
    const failed = await eventually(async () => {
      await chat(t, 'model-a', 'again').catch(() => undefined)
      const s = await engineStatus(t)
      return s.state === 'failed' ? s : null
    }, 'the engine to give up')
    expect(failed.lastError).toMatch(/crashed 3 times/)
    expect(fake.launches()).toHaveLength(3)
    for (const l of fake.launches()) expect(processGroup(l.pid)).toEqual([])
    // Requests do not bring it back: it stays down until someone starts it on purpose.
    const refused = (await chat(t, 'model-a', 'still there?').catch((err: unknown) => err)) as InstanceType<typeof OpenAI.APIError>
    expect(refused.status).toBe(503)
    expect(refused.message).toMatch(/crashed 3 times/)
    expect(fake.launches()).toHaveLength(3)
    const start = await t.api('/api/engine/start', { method: 'POST', body: JSON.stringify({ model: 'model-a' }), headers: { 'content-type': 'application/json' } })
    expect(start.status).toBe(202)
    await waitForState(t, 'ready')
    expect(fake.launches()).toHaveLength(4)
  })

  it('stopping the service leaves no process of the engine group', async () => {
    const { t } = await boot()
    await chat(t, 'model-a', 'x')
    const pid = (await engineStatus(t)).pid!
    expect(processGroup(pid).length).toBeGreaterThanOrEqual(2) // vLLM and its EngineCore
    await t.stop()
    expect(processGroup(pid)).toEqual([])
    expect(fs.existsSync(path.join(t.dataDir, 'engine.pid'))).toBe(false)
  })

  it('fails a start at once with the last log lines when vLLM exits while loading', async () => {
    const { t } = await boot({ FAKE_VLLM_REFUSE_START: 'CUDA out of memory while loading weights' })
    const e = (await chat(t, 'model-a', 'x').catch((err: unknown) => err)) as InstanceType<typeof OpenAI.APIError>
    expect(e.status).toBe(503)
    expect(e.message).toContain('CUDA out of memory while loading weights')
    const s = await engineStatus(t)
    expect(s.state).toBe('failed')
    expect(s.lastError).toContain('exited while loading test-model-a')
    // A failed model is not reloaded by every request that follows (no thrashing).
    const again = (await chat(t, 'model-a', 'x').catch((err: unknown) => err)) as InstanceType<typeof OpenAI.APIError>
    expect(again.status).toBe(503)
    expect(again.headers?.get('retry-after')).toMatch(/^\d+$/)
  })

  it('refuses to load a model whose VRAM estimate exceeds the free GPU memory', async () => {
    const { t, fake } = await boot()
    fake.setGpu({ memory_total_mib: 6000, base_used_mib: 3000 })
    const e = (await chat(t, 'model-a', 'x').catch((err: unknown) => err)) as InstanceType<typeof OpenAI.APIError>
    expect(e.status).toBe(503)
    expect(e.message).toMatch(/test-model-a needs about 4 GiB of GPU memory but only 2\.9 GiB of 5\.9 GiB is free/)
    expect(fake.launches()).toHaveLength(0)
  })

  it('aborts the engine request when the client goes away mid-stream', async () => {
    const { t, fake } = await boot({ FAKE_VLLM_STREAM_CHUNK_MS: '50' })
    const controller = new AbortController()
    const stream = await t.client.chat.completions.create(
      { model: 'model-a', messages: [{ role: 'user', content: Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ') }], stream: true },
      { signal: controller.signal },
    )
    let got = 0
    await (async () => {
      for await (const _ of stream) {
        got += 1
        if (got === 3) controller.abort()
      }
    })().catch(() => undefined) // SDK versions differ: some end the loop, some throw
    expect(got).toBeLessThan(50)
    await eventually(() => fake.requests().some((r) => r.stream && r.aborted), 'the engine to see the abort', 30_000)
    const s = await engineStatus(t)
    expect(s.state).toBe('ready')
    expect((s as unknown as { inFlight: number }).inFlight).toBe(0)
  })

  it('holds the model for a batch job: another model gets 503 model_busy with Retry-After and the job named', async () => {
    const { t, fake } = await boot()
    const lease = await t.service.engine.lease({ model: 'test-model-a', describe: () => 'batch batch_demo is running on test-model-a (1,200 / 5,000 done)' })
    const e = (await chat(t, 'model-b', 'x').catch((err: unknown) => err)) as InstanceType<typeof OpenAI.APIError>
    expect(e.status).toBe(503)
    expect(e.error).toMatchObject({ code: 'model_busy' })
    expect(e.message).toContain('batch batch_demo is running on test-model-a (1,200 / 5,000 done)')
    expect(e.headers?.get('retry-after')).toMatch(/^\d+$/)
    expect((await chat(t, 'model-a', 'same model is fine')).choices[0].message.content).toBe('echo: same model is fine')
    lease.release()
    expect((await chat(t, 'model-b', 'now b')).choices[0].message.content).toBe('echo: now b')
    expect(fake.launches().map((l) => l.served[0])).toEqual(['test-model-a', 'test-model-b'])
  })

  it('serves /metrics with our gauges and the vLLM series scraped from the engine', async () => {
    const { t } = await boot()
    await chat(t, 'model-a', 'count me')
    const done = await submitBatch(t, jsonl(3, 'm'))
    await batchReaches(t, done.id, ['completed'])
    const res = await t.api('/metrics')
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await res.text()
    expect(text).toContain('vbs_engine_state{state="ready"} 1')
    expect(text).toContain('vbs_realtime_requests_total{endpoint="/v1/chat/completions",code="200"} 1')
    expect(text).toContain('vbs_batches{status="completed"} 1')
    expect(text).toContain('vbs_batches{status="failed"} 0')
    for (const series of ['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'vllm:prompt_tokens_total', 'vllm:generation_tokens_total']) {
      expect(text).toContain(series)
    }
  })

  it('unloads the model after idle_unload_minutes without use, and loads it again on demand', async () => {
    const { t, fake } = await boot({}, { idleUnloadMinutes: 0.01 })
    await chat(t, 'model-a', 'x')
    const pid = (await engineStatus(t)).pid!
    await waitForState(t, 'stopped')
    expect(processGroup(pid)).toEqual([])
    expect((await chat(t, 'model-a', 'back')).choices[0].message.content).toBe('echo: back')
    expect(fake.launches()).toHaveLength(2)
  })
})

describe('without vLLM', () => {
  it('starts, serves everything else, and answers engine requests with 503 saying how to install vLLM', async () => {
    const fake = fakeEngineEnv()
    const t = await startService({ ...FAST_ENGINE, vllmBin: 'vllm' }, tempDir(), { ...fake.env, PATH: '/nonexistent-bin:/home/someone/private-tools' })
    services.track({ t, fake })
    const e = (await chat(t, 'model-a', 'x').catch((err: unknown) => err)) as InstanceType<typeof OpenAI.APIError>
    expect(e.status).toBe(503)
    expect(e.message).toContain("vLLM not found: 'vllm' is not on PATH (searched 2 folders); install it with `pip install vllm` or set VBS_VLLM_BIN")
    // The folders of PATH are the machine's business, not an API client's (nor the status's).
    expect(e.message).not.toContain('/nonexistent-bin')
    expect(JSON.stringify(await engineStatus(t))).not.toContain('private-tools')
    expect(e.headers?.get('retry-after')).toMatch(/^\d+$/)
    const s = await engineStatus(t)
    expect(s.state).toBe('failed')
    expect(s.lastError).toContain('vLLM not found')
    const health = (await (await t.api('/health')).json()) as { status: string; engine: { error: string } }
    expect(health.status).toBe('degraded') // up, but it cannot run a model
    expect(health.engine.error).toContain('pip install vllm')
    const start = await t.api('/api/engine/start', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
    expect(start.status).toBe(503)
    expect((await t.client.files.list()).data).toEqual([])
  })
})

describe('models.yaml reload', () => {
  it('picks up an edit, keeps the registry on a broken edit naming line and field, and never disturbs the running model', async () => {
    const dataDir = tempDir()
    const models = path.join(dataDir, 'my-models.yaml')
    fs.copyFileSync(TEST_MODELS, models)
    const { t } = await boot({}, { modelsPath: models }, dataDir)
    await chat(t, 'model-a', 'x')
    const pid = (await engineStatus(t)).pid

    fs.writeFileSync(models, fs.readFileSync(models, 'utf8').replace('aliases: [model-a, a-alias]', 'aliases: [model-a, a-alias, fresh-alias]'))
    await eventually(async () => (await t.client.models.list()).data.some((m) => (m as unknown as { aliases: string[] }).aliases.includes('fresh-alias')), 'the new alias')
    expect((await chat(t, 'fresh-alias', 'y')).choices[0].message.content).toBe('echo: y')

    fs.writeFileSync(models, 'models:\n  - id: broken\n    modle: x\n')
    const s = await eventually(async () => {
      const st = await engineStatus(t)
      return st.registry.error ? st : null
    }, 'the reload error')
    expect(s.registry.error).toContain('line 3: models[0].modle is not a known field')
    expect(s.registry.error).toContain('line 2: models[0].model is required')
    expect(s).toMatchObject({ state: 'ready', pid })
    expect((await chat(t, 'fresh-alias', 'z')).choices[0].message.content).toBe('echo: z')
  })
})

/**
 * Starts `npm run serve` as a child, loads a model, kills the service with SIGKILL, leaves its pidfile as
 * `pidfile` says, and starts it again on the same data dir: the engine the first one left must be gone
 * before the second serves, and the second starts an engine of its own.
 */
async function engineLeftBehind(pidfile: 'kept' | 'missing' | 'half-written'): Promise<void> {
  const { spawnServe, readKey } = await import('../helpers/child-service')
  const fake = fakeEngineEnv()
  const dataDir = tempDir()
  const env = serveEnvWithFake(fake, dataDir)
  const first = spawnServe(env)
  const url = await first.ready
  const client = new OpenAI({ apiKey: readKey(dataDir), baseURL: `${url}/v1`, maxRetries: 0 })
  await client.chat.completions.create({ model: 'model-a', messages: [{ role: 'user', content: 'x' }] })
  const engine = fake.launches()[0].pid
  expect(processGroup(engine).length, pidfile).toBeGreaterThanOrEqual(2)
  first.child.kill('SIGKILL')
  await first.exited
  const file = path.join(dataDir, 'engine.pid')
  if (pidfile === 'missing') fs.rmSync(file)
  if (pidfile === 'half-written') fs.writeFileSync(file, fs.readFileSync(file, 'utf8').slice(0, 9))
  // The engine runs in its own process group: it outlived the service.
  expect(processGroup(engine).length, pidfile).toBeGreaterThanOrEqual(2)

  const second = spawnServe(env)
  try {
    await second.ready
    expect(processGroup(engine), pidfile).toEqual([])
    expect(alive(process.pid)).toBe(true)
    const client2 = new OpenAI({ apiKey: readKey(dataDir), baseURL: `${second.url}/v1`, maxRetries: 0 })
    expect((await client2.chat.completions.create({ model: 'model-a', messages: [{ role: 'user', content: 'y' }] })).choices[0].message.content).toBe('echo: y')
    expect(fake.launches(), pidfile).toHaveLength(2)
  } finally {
    second.child.kill('SIGTERM')
    await second.exited
    for (const l of fake.launches()) for (const pid of processGroup(l.pid)) process.kill(pid, 'SIGKILL')
  }
}

describe('an engine left by a service that died', () => {
  it('is found by the pidfile and ended on the next start; nothing unrelated is touched', async () => {
    await engineLeftBehind('kept')
  })

  it('is found by its environment when the service was killed before its pidfile was saved, or while writing it', async () => {
    await engineLeftBehind('missing')
    await engineLeftBehind('half-written')
  })
})

describe('the pidfile guard', () => {
  it('never signals a process that merely reuses the recorded pid', async () => {
    const { spawn } = await import('node:child_process')
    const { readStat } = await import('../../main/engine/process-group')
    const sleeper = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' })
    try {
      const pid = sleeper.pid!
      const realStart = readStat(pid)!.startTime
      const dataDir = tempDir()
      const record = (startTime: number): string => JSON.stringify({ pid, pgid: pid, startTime, model: 'x', port: 1, bin: 'vllm' })
      fs.writeFileSync(path.join(dataDir, 'engine.pid'), record(realStart - 1))
      const { t, fake } = await boot({}, {}, dataDir)
      expect(alive(pid)).toBe(true)
      expect(fs.existsSync(path.join(dataDir, 'engine.pid'))).toBe(false)
      await t.stop()
      services.untrack(t)
      // The same record with the true start time is ours, and is ended.
      fs.writeFileSync(path.join(dataDir, 'engine.pid'), record(realStart))
      const again = await startService({ ...FAST_ENGINE, engineStopGraceMs: 2000 }, dataDir, fake.env)
      services.track({ t: again, fake })
      expect(alive(pid)).toBe(false)
    } finally {
      try {
        process.kill(-sleeper.pid!, 'SIGKILL')
      } catch {
        // already ended
      }
    }
  })
})
