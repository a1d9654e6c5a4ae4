import { execFile, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import OpenAI from 'openai'
import { eventually } from '../helpers/fake-engine'

// The fakes the engine tests stand on: fake-vllm (vLLM's CLI, HTTP surface and process model), and the
// nvidia-smi and lspci that report the fake GPU. If these drift from vLLM's behaviour, every supervisor
// test built on them proves less, so they get tests of their own.

const ROOT = path.resolve(__dirname, '..', '..')
const FAKE_VLLM = path.join(ROOT, 'tests', 'fixtures', 'fake-vllm')
const BIN = path.join(ROOT, 'tests', 'fixtures', 'bin')
const NVIDIA_SMI = path.join(BIN, 'nvidia-smi')
const MODEL = 'test-org/test-model'
const SERVED = 'test-model'
const BASE_USED_MIB = 600 // the fake desktop's own use, nvidia-smi's default

interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

interface FakeVllm {
  child: ChildProcess
  pid: number
  url: string
  stateDir: string
  launchLog: string
  requestLog: string
  output: () => string
  exited: Promise<Exit>
  /** Set once the API server has exited. */
  exit: () => Exit | null
}

interface LaunchRecord {
  pid: number
  pgid: number | null
  engine_pid: number
  argv: string[]
  model: string
  served: string[]
}

interface RequestRecord {
  path: string
  model: string | null
  priority: number
  stream: boolean
  aborted: boolean
  status: number | null
  keys: string[]
}

/** Process groups (detached spawns) and plain children this test started, killed after each test. */
const groups = new Set<number>()
const children = new Set<ChildProcess>()
const dirs = new Set<string>()

afterEach(() => {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {
      // the group is already gone
    }
  }
  groups.clear()
  for (const c of children) c.kill('SIGKILL')
  children.clear()
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
  dirs.clear()
})

function tempStateDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-gpu-test-'))
  dirs.add(dir)
  return dir
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo
      srv.close(() => resolve(port))
    })
  })
}

async function startFake(stateDir: string, extraArgs: string[] = [], env: Record<string, string> = {}): Promise<FakeVllm> {
  const port = await freePort()
  const launchLog = path.join(stateDir, 'launch.log')
  const requestLog = path.join(stateDir, 'requests.log')
  // As the supervisor does: an argv array, in its own process group.
  const child = spawn(
    FAKE_VLLM,
    ['serve', MODEL, '--host', '127.0.0.1', '--port', String(port), '--served-model-name', SERVED, ...extraArgs],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        FAKE_GPU_STATE_DIR: stateDir,
        FAKE_VLLM_LAUNCH_LOG: launchLog,
        FAKE_VLLM_REQUEST_LOG: requestLog,
        ...env,
      },
    },
  )
  if (child.pid === undefined) throw new Error('fake-vllm did not start')
  groups.add(child.pid)
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  let exitInfo: Exit | null = null
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal }
      resolve(exitInfo)
    }),
  )
  return {
    child,
    pid: child.pid,
    url: `http://127.0.0.1:${port}`,
    stateDir,
    launchLog,
    requestLog,
    output: () => out,
    exited,
    exit: () => exitInfo,
  }
}

/** Polls until check() gives a value other than undefined, or fails after timeoutMs. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** Readiness as the supervisor sees it: /health answers 200 (the port refuses while loading). */
async function waitHealthy(fake: FakeVllm): Promise<void> {
  await waitFor(`${fake.url}/health`, async () => {
    const exit = fake.exit()
    if (exit) throw new Error(`fake-vllm exited (${exit.code ?? exit.signal}) before it was healthy:\n${fake.output()}`)
    try {
      const res = await fetch(`${fake.url}/health`)
      return res.status === 200 ? true : undefined
    } catch {
      return undefined // connection refused: still loading
    }
  })
}

function withTimeout<T>(p: Promise<T>, what: string, ms = 30_000): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms))])
}

/** Runs the fake nvidia-smi: its exit code and stdout. */
function runNvidiaSmi(stateDir: string, args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    execFile(NVIDIA_SMI, args, { env: { ...process.env, FAKE_GPU_STATE_DIR: stateDir }, timeout: 30_000 }, (err, stdout) => {
      if (err && typeof err.code !== 'number') reject(err)
      else resolve({ code: err ? Number(err.code) : 0, stdout })
    })
  })
}

async function nvidiaSmi(stateDir: string, args: string[]): Promise<string> {
  const { code, stdout } = await runNvidiaSmi(stateDir, args)
  if (code !== 0) throw new Error(`nvidia-smi ${args.join(' ')} exited ${code}: ${stdout}`)
  return stdout
}

async function memoryUsedMiB(stateDir: string): Promise<number> {
  return Number((await nvidiaSmi(stateDir, ['--query-gpu=memory.used', '--format=csv,noheader,nounits'])).trim())
}

function readJsonLines<T>(file: string): T[] {
  if (!fs.existsSync(file)) return []
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T)
}

/** Alive and not a zombie (a reparented orphan may never be reaped in a container). */
function processAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

function client(fake: FakeVllm): OpenAI {
  return new OpenAI({ apiKey: 'unused-by-vllm', baseURL: `${fake.url}/v1`, maxRetries: 0, timeout: 30_000 })
}

describe('fake-vllm', () => {
  it('serves /v1/models, chat (plain and streamed) and embeddings to the openai SDK, and 404s an unknown model', async () => {
    const fake = await startFake(tempStateDir())
    await waitHealthy(fake)

    const models = (await (await fetch(`${fake.url}/v1/models`)).json()) as { object: string; data: Record<string, unknown>[] }
    expect(models.object).toBe('list')
    expect(models.data).toHaveLength(1)
    expect(models.data[0]).toMatchObject({ id: SERVED, object: 'model', owned_by: 'vllm', root: MODEL, parent: null })
    expect(models.data[0].max_model_len).toBe(32768)
    expect(Array.isArray(models.data[0].permission)).toBe(true)

    const openai = client(fake)
    // vLLM-only sampling fields ride along untouched; the SDK types do not know them.
    const params = { model: SERVED, messages: [{ role: 'user' as const, content: 'hello fake world' }], top_k: 5, min_p: 0.1 }
    const chat = await openai.chat.completions.create(params)
    expect(chat.object).toBe('chat.completion')
    expect(chat.id).toMatch(/^chatcmpl-/)
    expect(chat.model).toBe(SERVED)
    expect(chat.choices[0].message).toMatchObject({ role: 'assistant', content: 'echo: hello fake world' })
    expect(chat.choices[0].finish_reason).toBe('stop')
    expect(chat.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 })
    // The fake writes its log line once the answer is sent: wait for it rather than read at once.
    const record = await eventually(
      () => (fs.existsSync(fake.requestLog) ? readJsonLines<RequestRecord>(fake.requestLog).find((r) => r.path === '/v1/chat/completions') : undefined),
      'the request log to hold the chat request',
    )
    expect(record).toMatchObject({ path: '/v1/chat/completions', model: SERVED, stream: false, aborted: false, status: 200 })
    expect(record.keys).toEqual(expect.arrayContaining(['top_k', 'min_p']))

    const stream = await openai.chat.completions.create({
      model: SERVED,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'one two three' }] }],
      stream: true,
      stream_options: { include_usage: true },
    })
    const pieces: string[] = []
    let finish: string | null = null
    let usage: OpenAI.CompletionUsage | null | undefined
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk')
      const choice = chunk.choices[0]
      if (choice?.delta.content) pieces.push(choice.delta.content)
      if (choice?.finish_reason) finish = choice.finish_reason
      if (chunk.usage) usage = chunk.usage
    }
    expect(pieces.length).toBeGreaterThanOrEqual(2)
    expect(pieces.join('')).toBe('echo: one two three')
    expect(finish).toBe('stop')
    expect(usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 4 })

    const input = ['alpha', 'beta gamma']
    const asFloat = await openai.embeddings.create({ model: SERVED, input, encoding_format: 'float' })
    expect(asFloat.data.map((d) => d.index)).toEqual([0, 1])
    expect(asFloat.data[0].embedding).toHaveLength(8)
    expect(asFloat.data[0].embedding).not.toEqual(asFloat.data[1].embedding)
    expect(asFloat.usage).toMatchObject({ prompt_tokens: 3, total_tokens: 3 })
    // The SDK asks for base64 by default and decodes it; decode a raw answer by hand as well.
    const viaSdk = await openai.embeddings.create({ model: SERVED, input })
    expect(viaSdk.data.map((d) => d.embedding)).toEqual(asFloat.data.map((d) => d.embedding))
    const raw = (await (
      await fetch(`${fake.url}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: SERVED, input, encoding_format: 'base64' }),
      })
    ).json()) as { data: { embedding: string }[] }
    const decoded = raw.data.map((d) => {
      const bytes = Buffer.from(d.embedding, 'base64')
      return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4))
    })
    expect(decoded).toEqual(asFloat.data.map((d) => d.embedding))

    const missing = await openai.chat.completions
      .create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError)
    const res404 = await fetch(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
    })
    expect(res404.status).toBe(404)
    expect(await res404.json()).toEqual({
      error: { message: 'The model `no-such-model` does not exist.', type: 'NotFoundError', param: 'model', code: 404 },
    })

    fake.child.kill('SIGTERM')
    expect(await withTimeout(fake.exited, 'exit after SIGTERM')).toEqual({ code: 0, signal: null })
  })

  it('with VLLM_API_KEY, refuses every /v1 path without the key before routing, as vLLM; /health, /metrics, /version stay open', async () => {
    const fake = await startFake(tempStateDir(), [], { VLLM_API_KEY: 'engine-key-1' })
    await waitHealthy(fake)
    for (const [method, p] of [['GET', '/v1/models'], ['POST', '/v1/chat/completions'], ['GET', '/v1/no-such-route']] as const) {
      for (const authorization of [undefined, 'Bearer wrong', 'engine-key-1']) {
        const res = await fetch(`${fake.url}${p}`, { method, headers: authorization ? { authorization } : {}, body: method === 'POST' ? '{}' : undefined })
        expect(res.status, `${method} ${p} ${authorization}`).toBe(401)
        expect(await res.json()).toEqual({ error: 'Unauthorized' })
      }
    }
    for (const p of ['/health', '/metrics', '/version']) expect((await fetch(`${fake.url}${p}`)).status, p).toBe(200)
    const keyed = new OpenAI({ apiKey: 'engine-key-1', baseURL: `${fake.url}/v1`, maxRetries: 0 })
    expect((await keyed.chat.completions.create({ model: SERVED, messages: [{ role: 'user', content: 'with key' }] })).choices[0].message.content).toBe('echo: with key')
    expect(await client(fake).models.list().catch((e: unknown) => e)).toBeInstanceOf(OpenAI.AuthenticationError)
  })

  it('fetches image_url from any host without --allowed-media-domains (vLLM\'s SSRF), only from the listed hosts with it', async () => {
    const hits: string[] = []
    const http = await import('node:http')
    const inside = http.createServer((req, res) => {
      hits.push(req.url ?? '')
      if (req.url === '/redirect') return void res.writeHead(302, { location: '/secret' }).end()
      res.writeHead(200, { 'content-type': 'image/png' }).end('png')
    })
    await new Promise<void>((r) => inside.listen(0, '127.0.0.1', r))
    const port = (inside.address() as net.AddressInfo).port
    try {
      const ask = (openai: OpenAI, url: string): Promise<unknown> =>
        openai.chat.completions
          .create({ model: SERVED, messages: [{ role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url } }] }] })
          .catch((e: unknown) => e)

      const open = await startFake(tempStateDir())
      await waitHealthy(open)
      expect(await ask(client(open), `http://127.0.0.1:${port}/secret`)).toMatchObject({ choices: [{ message: { content: 'echo: look' } }] })
      expect(hits).toEqual(['/secret'])
      open.child.kill('SIGTERM')
      await withTimeout(open.exited, 'exit')

      const closed = await startFake(tempStateDir(), ['--allowed-media-domains', 'images.example.com', 'localhost'], { VLLM_MEDIA_URL_ALLOW_REDIRECTS: '0' })
      await waitHealthy(closed)
      const refused = (await ask(client(closed), `http://127.0.0.1:${port}/secret`)) as InstanceType<typeof OpenAI.BadRequestError>
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError)
      expect(refused.message).toContain("The URL must be from one of the allowed domains: ['images.example.com', 'localhost']. Input URL domain: 127.0.0.1")
      expect(hits).toEqual(['/secret'])
      // An allowed host is fetched; its redirect is not followed with VLLM_MEDIA_URL_ALLOW_REDIRECTS=0.
      expect(await ask(client(closed), `http://localhost:${port}/ok`)).toMatchObject({ choices: [{ message: { content: 'echo: look' } }] })
      expect(await ask(client(closed), `http://localhost:${port}/redirect`)).toBeInstanceOf(OpenAI.BadRequestError)
      expect(hits).toEqual(['/secret', '/ok', '/redirect'])
      expect(await ask(client(closed), 'data:image/png;base64,AAAA')).toMatchObject({ choices: [{ message: { content: 'echo: look' } }] })
    } finally {
      inside.close()
    }
  })

  it('refuses prompt_embeds unless started with --enable-prompt-embeds, as vLLM', async () => {
    const body = JSON.stringify({ model: SERVED, prompt_embeds: 'UEsDBA==' })
    const post = (fake: FakeVllm, b: string, p = '/v1/completions'): Promise<Response> =>
      fetch(`${fake.url}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b })
    const off = await startFake(tempStateDir())
    await waitHealthy(off)
    const refused = await post(off, body)
    expect(refused.status).toBe(400)
    expect(((await refused.json()) as { error: { message: string; param: string } }).error).toMatchObject({
      message: 'You must set `--enable-prompt-embeds` to input `prompt_embeds`.',
      param: 'prompt_embeds',
    })
    const chatPart = JSON.stringify({ model: SERVED, messages: [{ role: 'user', content: [{ type: 'prompt_embeds', data: 'UEsDBA==' }] }] })
    expect((await post(off, chatPart, '/v1/chat/completions')).status).toBe(400)
    off.child.kill('SIGTERM')
    await withTimeout(off.exited, 'exit')

    const on = await startFake(tempStateDir(), ['--enable-prompt-embeds'])
    await waitHealthy(on)
    const served = await post(on, body)
    expect(served.status).toBe(200)
    expect(((await served.json()) as { choices: { text: string }[] }).choices[0].text).toBe('echo: [prompt_embeds]')
  })

  it('refuses to start when a live process already holds the GPU memory, with vLLM\'s free-memory error', async () => {
    const stateDir = tempStateDir()
    // This test process stands in for another engine: alive, holding 12000 MiB.
    fs.writeFileSync(path.join(stateDir, `engine-${process.pid}.json`), JSON.stringify({ pid: process.pid, mib: 12000, model: 'other' }))

    const refused = await startFake(stateDir)
    expect(await withTimeout(refused.exited, 'the refused start to exit')).toEqual({ code: 1, signal: null })
    expect(refused.output()).toContain(
      'ValueError: Free memory on device (3.69/15.99 GiB) on startup is less than desired GPU memory utilization (0.92, 14.71 GiB)',
    )
    expect(refused.output()).toContain('RuntimeError: Engine core initialization failed.')
    expect(refused.output()).not.toContain('Application startup complete')

    // A fraction that fits in what is left starts fine.
    const small = await startFake(stateDir, ['--gpu-memory-utilization', '0.2'])
    await waitHealthy(small)
    small.child.kill('SIGTERM')
    expect(await withTimeout(small.exited, 'exit after SIGTERM')).toEqual({ code: 0, signal: null })
  })

  it('holds its memory in nvidia-smi while running and frees it on SIGTERM, to the server or to the group', async () => {
    const stateDir = tempStateDir()
    expect(await memoryUsedMiB(stateDir)).toBe(BASE_USED_MIB)

    for (const target of ['server', 'group'] as const) {
      const fake = await startFake(stateDir, [], { FAKE_VLLM_GPU_MIB: '9000' })
      await waitHealthy(fake)
      expect(await memoryUsedMiB(stateDir)).toBe(BASE_USED_MIB + 9000)
      const [launch] = readJsonLines<LaunchRecord>(fake.launchLog).slice(-1)
      expect(launch).toMatchObject({ pid: fake.pid, pgid: fake.pid, model: MODEL, served: [SERVED] })
      const apps = await nvidiaSmi(stateDir, ['--query-compute-apps=pid,used_memory,process_name', '--format=csv,noheader,nounits'])
      expect(apps.trim()).toBe(`${launch.engine_pid}, 9000, VLLM::EngineCore`)

      if (target === 'server') fake.child.kill('SIGTERM')
      else process.kill(-fake.pid, 'SIGTERM')
      expect(await withTimeout(fake.exited, `exit after SIGTERM to the ${target}`)).toEqual({ code: 0, signal: null })
      expect(fake.output()).toContain('Shutting down')
      // The API server exits only after its EngineCore has: the memory is free at once.
      expect(processAlive(launch.engine_pid)).toBe(false)
      expect(await memoryUsedMiB(stateDir)).toBe(BASE_USED_MIB)
    }
  })

  it('after SIGKILL of the API server alone, the EngineCore lives on holding its memory and the next start fails', async () => {
    const stateDir = tempStateDir()
    const fake = await startFake(stateDir, [], { FAKE_VLLM_ORPHAN_LINGER_MS: '600000' })
    await waitHealthy(fake)
    const [launch] = readJsonLines<LaunchRecord>(fake.launchLog)
    const enginePid = launch.engine_pid
    const stat = fs.readFileSync(`/proc/${enginePid}/stat`, 'utf8')
    expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])).toBe(fake.pid) // its parent is the API server

    process.kill(fake.pid, 'SIGKILL')
    expect(await withTimeout(fake.exited, 'the API server to die')).toEqual({ code: null, signal: 'SIGKILL' })

    expect(processAlive(enginePid)).toBe(true)
    expect(fs.readFileSync(`/proc/${enginePid}/comm`, 'utf8').trim()).toBe('VLLM::EngineCor')
    expect(fs.readFileSync(`/proc/${enginePid}/cmdline`, 'utf8')).toMatch(/^VLLM::EngineCore/)
    expect(await memoryUsedMiB(stateDir)).toBe(BASE_USED_MIB + 12000)

    const next = await startFake(stateDir)
    expect(await withTimeout(next.exited, 'the second start to fail')).toEqual({ code: 1, signal: null })
    expect(next.output()).toContain('ValueError: Free memory on device')

    // The orphan is still in the first server's process group: the supervisor's group kill reaches it.
    process.kill(-fake.pid, 'SIGKILL')
    await waitFor('the orphan to die', () => (processAlive(enginePid) ? undefined : true), 30_000)
    expect(await memoryUsedMiB(stateDir)).toBe(BASE_USED_MIB)
  })

  it('an orphaned EngineCore frees its memory and exits by itself after FAKE_VLLM_ORPHAN_LINGER_MS', async () => {
    const stateDir = tempStateDir()
    const fake = await startFake(stateDir, [], { FAKE_VLLM_ORPHAN_LINGER_MS: '500' })
    await waitHealthy(fake)
    const [launch] = readJsonLines<LaunchRecord>(fake.launchLog)
    process.kill(fake.pid, 'SIGKILL')
    await withTimeout(fake.exited, 'the API server to die')
    await waitFor('the orphan to exit', () => (processAlive(launch.engine_pid) ? undefined : true), 60_000)
    expect(await memoryUsedMiB(stateDir)).toBe(BASE_USED_MIB)
    expect(fs.readdirSync(stateDir).filter((f) => f.startsWith('engine-'))).toEqual([])
  })

  it('rejects an unknown flag like argparse (exit 2) and prints its version', async () => {
    const bad = await startFake(tempStateDir(), ['--max-model-len', '32k', '--no-such-flag', 'x'])
    expect(await withTimeout(bad.exited, 'the usage error')).toEqual({ code: 2, signal: null })
    expect(bad.output()).toContain('vllm serve: error: unrecognized arguments: --no-such-flag x')

    const version = await new Promise<string>((resolve, reject) =>
      execFile(FAKE_VLLM, ['--version'], { timeout: 30_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    )
    expect(version.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })
  it('a variant model (FAKE_VLLM_VARIANT) shouts or flips its answer where the request asks, and is plain otherwise', async () => {
    const fake = await startFake(tempStateDir(), [], { FAKE_VLLM_VARIANT: SERVED })
    await waitHealthy(fake)
    const say = async (content: string): Promise<string | null> =>
      (await client(fake).chat.completions.create({ model: SERVED, messages: [{ role: 'user', content }] })).choices[0].message.content
    expect(await say('plain words')).toBe('echo: plain words')
    expect(await say('loud [shout] words')).toBe('ECHO: LOUD [SHOUT] WORDS!')
    expect(await say('one two [flip]')).toBe('[flip] two one echo:')
  })

  it('cuts an answer at max_tokens words with finish_reason length, plain and streamed, as vLLM', async () => {
    const fake = await startFake(tempStateDir())
    await waitHealthy(fake)
    const openai = client(fake)
    const messages = [{ role: 'user' as const, content: 'one two three four five' }]
    const cut = await openai.chat.completions.create({ model: SERVED, messages, max_tokens: 3 })
    expect(cut.choices[0]).toMatchObject({ finish_reason: 'length', message: { content: 'echo: one two' } })
    expect(cut.usage?.completion_tokens).toBe(3)
    const roomy = await openai.chat.completions.create({ model: SERVED, messages, max_completion_tokens: 6 })
    expect(roomy.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: 'echo: one two three four five' } })
    const stream = await openai.chat.completions.create({ model: SERVED, messages, max_tokens: 2, stream: true })
    let text = ''
    let reason: string | null = null
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? ''
      reason = c.choices[0]?.finish_reason ?? reason
    }
    expect([text, reason]).toEqual(['echo: one', 'length'])
    const metrics = await (await fetch(`${fake.url}/metrics`)).text()
    expect(metrics).toMatch(/vllm:request_success_total\{[^}]*finished_reason="length"[^}]*\} 2\b/)
  })
})

describe('fake nvidia-smi and lspci', () => {
  it('systeminformation finds the RTX 4080 with its memory and temperature', async () => {
    const stateDir = tempStateDir()
    fs.writeFileSync(path.join(stateDir, 'gpu.json'), JSON.stringify({ temperature_c: 61 }))
    const saved = { PATH: process.env.PATH, FAKE_GPU_STATE_DIR: process.env.FAKE_GPU_STATE_DIR }
    process.env.PATH = `${BIN}${path.delimiter}${process.env.PATH ?? ''}`
    process.env.FAKE_GPU_STATE_DIR = stateDir
    try {
      // Imported only now: systeminformation copies process.env (PATH included) for nvidia-smi when it loads.
      const { default: si } = await import('systeminformation')
      const { controllers } = await withTimeout(si.graphics(), 'systeminformation.graphics()')
      const gpu = controllers.find((c) => c.vendor.includes('NVIDIA'))
      expect(gpu).toMatchObject({
        model: 'AD103 [GeForce RTX 4080]',
        name: 'NVIDIA GeForce RTX 4080',
        busAddress: '01:00.0',
        vram: 16376,
        memoryTotal: 16376,
        memoryUsed: BASE_USED_MIB,
        memoryFree: 16376 - BASE_USED_MIB,
        temperatureGpu: 61,
        driverVersion: '550.54.14',
      })
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k]
        else process.env[k] = v
      }
    }
  })

  it('re-reads gpu.json on every sample of a -lms loop, and fails like nvidia-smi', async () => {
    const stateDir = tempStateDir()
    const gpuJson = path.join(stateDir, 'gpu.json')
    const writeGpu = (state: object): void => {
      fs.writeFileSync(`${gpuJson}.tmp`, JSON.stringify(state))
      fs.renameSync(`${gpuJson}.tmp`, gpuJson)
    }
    writeGpu({ temperature_c: 50 })
    const loop = spawn(NVIDIA_SMI, ['--query-gpu=temperature.gpu,memory.used', '--format=csv,noheader,nounits', '-lms', '50'], {
      env: { ...process.env, FAKE_GPU_STATE_DIR: stateDir },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    children.add(loop)
    let out = ''
    loop.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    await waitFor('the first sample', () => (out.includes(`50, ${BASE_USED_MIB}\n`) ? true : undefined), 30_000, 20)
    writeGpu({ temperature_c: 83 })
    await waitFor('a sample with the new temperature', () => (out.includes(`83, ${BASE_USED_MIB}\n`) ? true : undefined), 30_000, 20)
    loop.kill('SIGTERM')

    const unknown = await runNvidiaSmi(stateDir, ['--query-gpu=memory.used,not.a.field', '--format=csv'])
    expect(unknown.code).toBe(2)
    expect(unknown.stdout).toContain('Field "not.a.field" is not a valid field to query.')

    writeGpu({ fail: true })
    const failed = await runNvidiaSmi(stateDir, [])
    expect(failed.code).toBe(9)
    expect(failed.stdout).toContain("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.")
  })
})
