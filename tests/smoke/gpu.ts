/**
 * Smoke test on a GPU workstation (not run in CI): the real service against the real `vllm serve` and
 * nvidia-smi. It loads the default model, answers a chat and a stream, runs a batch of 200 requests through
 * Files + Batches, swaps to a second model and back, checks that the engine refuses requests without its launch
 * key, reads the GPU's temperatures, and prints a Markdown report (also written to a file) that the README's
 * "verified on a GPU workstation" section can quote.
 *
 *   npm run smoke:gpu -- [--models FILE] [--model ID] [--second ID] [--requests 200] [--max-tokens 64]
 *                        [--load-timeout-s 1800] [--out FILE] [--keep-data] [--fake]
 *
 * Defaults: your models.yaml (VBS_MODELS, else the one in your data dir, else the shipped one), its default
 * model, and the next vLLM model of the registry as the second; your VBS_VLLM_BIN. The service runs in this
 * process on a temporary data dir and a free port, with a key of its own; your data dir is only read. The
 * same options as environment variables: SMOKE_MODELS, SMOKE_MODEL, SMOKE_SECOND_MODEL, SMOKE_REQUESTS,
 * SMOKE_MAX_TOKENS, SMOKE_OUT.
 *
 * --fake runs it here, against tests/fixtures/fake-vllm and the fake nvidia-smi with tests/fixtures/models.yaml:
 * proof that the script works end to end; its numbers mean nothing.
 *
 * Exit code 0 when every step passed, 1 otherwise (the report says which step failed and why).
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import OpenAI from 'openai'
import { loadModels, shippedModelsPath, type ModelEntry } from '../../main/config/models'
import { loadSettings, type Settings } from '../../main/config/settings'
import type { GpuSample } from '../../main/gpu/telemetry'
import { Service } from '../../main/service'
import { VERSION } from '../../main/version'
import { cleanUpOnSignals, delay, describeError } from '../bench/bench-util'

const ROOT = path.resolve(__dirname, '..', '..')
const FIXTURES = path.join(ROOT, 'tests', 'fixtures')

// ------------------------------------------------------------------------------------------- options

const argv = process.argv.slice(2)
const flag = (name: string): boolean => argv.includes(`--${name}`)
function option(name: string, envName: string): string | undefined {
  const i = argv.indexOf(`--${name}`)
  if (i !== -1 && argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) return argv[i + 1]
  const eq = argv.find((a) => a.startsWith(`--${name}=`))
  if (eq) return eq.slice(name.length + 3)
  return process.env[envName] || undefined
}
function numberOption(name: string, envName: string, fallback: number): number {
  const raw = option(name, envName)
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number of at least 1, got '${raw}'`)
  return n
}
const KNOWN = ['models', 'model', 'second', 'requests', 'max-tokens', 'load-timeout-s', 'out', 'keep-data', 'fake', 'help']
for (const a of argv) {
  if (a.startsWith('--') && !KNOWN.includes(a.slice(2).split('=')[0])) {
    console.error(`unknown option ${a}; see the top of tests/smoke/gpu.ts`)
    process.exit(2)
  }
}
if (flag('help')) {
  console.log(fs.readFileSync(__filename, 'utf8').split('*/')[0])
  process.exit(0)
}

const FAKE = flag('fake')
const REQUESTS = numberOption('requests', 'SMOKE_REQUESTS', 200)
const MAX_TOKENS = numberOption('max-tokens', 'SMOKE_MAX_TOKENS', 64)
const LOAD_TIMEOUT_S = numberOption('load-timeout-s', 'SMOKE_LOAD_TIMEOUT_S', FAKE ? 60 : 1800)
const stamp = new Date().toISOString().replace(/[:.]/g, '-')
const OUT = path.resolve(option('out', 'SMOKE_OUT') ?? path.join(os.tmpdir(), `vbs-smoke-gpu-${stamp}.md`))

// ------------------------------------------------------------------------------------------- report

interface StepResult {
  name: string
  ok: boolean
  seconds: number
  detail: string
}
const steps: StepResult[] = []
const facts: Record<string, string> = {}

async function step<T>(name: string, run: () => Promise<{ value: T; detail: string }>): Promise<T> {
  const t0 = performance.now()
  try {
    const { value, detail } = await run()
    steps.push({ name, ok: true, seconds: (performance.now() - t0) / 1000, detail })
    console.error(`ok    ${name}: ${detail}`)
    return value
  } catch (err) {
    const detail = describeError(err)
    steps.push({ name, ok: false, seconds: (performance.now() - t0) / 1000, detail })
    console.error(`FAIL  ${name}: ${detail}`)
    throw new StepFailed(name)
  }
}
class StepFailed extends Error {}

const fmt = (n: number | null | undefined, digits = 1): string => (n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits))

function report(): string {
  const passed = steps.every((s) => s.ok) && steps.length > 0
  const lines = [
    `# vLLM Batch Server: GPU smoke test`,
    '',
    FAKE
      ? '> **--fake run**: fake vLLM and fake nvidia-smi from tests/fixtures. It proves the script works end to end; the numbers mean nothing.'
      : '> Real vLLM and nvidia-smi on this workstation.',
    '',
    `Result: **${passed ? 'all steps passed' : 'FAILED'}** (${new Date().toISOString()})`,
    '',
    '| | |',
    '|---|---|',
    ...Object.entries(facts).map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`),
    '',
    '| Step | Result | Time (s) | Details |',
    '|---|---|---:|---|',
    ...steps.map((s) => `| ${s.name} | ${s.ok ? 'ok' : '**failed**'} | ${s.seconds.toFixed(1)} | ${s.detail.replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`),
    '',
    `Reproduce: \`npm run smoke:gpu${argv.length ? ` -- ${argv.join(' ')}` : ''}\``,
    '',
  ]
  return lines.join('\n')
}

// ------------------------------------------------------------------------------------------- the service

interface EngineStatusBody {
  kind: string
  state: string
  model: string | null
  port: number | null
  phase: string | null
  lastError: string | null
  pid: number | null
  /** The warm pool: engines asleep beside the awake one (models with `sleep: true`). */
  pool: { model: string; state: string; pid: number | null }[]
}
/** What the report reads of a sample in GET /api/gpu. */
type GpuSampleBody = Pick<GpuSample, 'at' | 'temperatureC' | 'memoryUsedMiB' | 'memoryTotalMiB' | 'utilizationPct' | 'powerW'>
interface GpuBody {
  status: { available: boolean; reason: string | null }
  info: { name: string | null; driverVersion: string | null; vramTotalMiB: number | null; cpu: { brand: string | null; cores: number | null } }
  current: GpuSampleBody | null
  history: GpuSampleBody[]
}

function registryFile(user: Settings | null): string {
  const given = option('models', 'SMOKE_MODELS')
  if (given) return path.resolve(given)
  if (FAKE) return path.join(FIXTURES, 'models.yaml')
  if (user?.modelsPath) return path.resolve(user.modelsPath)
  const mine = user ? path.join(user.dataDir, 'models.yaml') : null
  return mine && fs.existsSync(mine) ? mine : shippedModelsPath()
}

async function main(): Promise<number> {
  // Your settings (environment and your data dir's settings.json) tell where vLLM and your registry are; only read.
  let user: Settings | null = null
  try {
    user = loadSettings(process.env)
  } catch (err) {
    console.error(`your settings could not be read (${(err as Error).message}); using the defaults`)
  }
  const modelsPath = registryFile(user)
  const registry = loadModels(modelsPath)
  const first = registry.resolve(option('model', 'SMOKE_MODEL') ?? registry.defaultModel ?? '')
  if (!first) throw new Error(`no model '${option('model', 'SMOKE_MODEL') ?? registry.defaultModel}' in ${modelsPath}`)
  const secondName = option('second', 'SMOKE_SECOND_MODEL')
  const second: ModelEntry | undefined = secondName
    ? registry.resolve(secondName)
    : (registry.models.find((m) => m.id !== first.id && m.engine === first.engine) ?? registry.models.find((m) => m.id !== first.id && m.engine !== 'remote'))
  if (!second) throw new Error(secondName ? `no model '${secondName}' in ${modelsPath}` : `${modelsPath} has no second model to swap to: pass --second`)

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vbs-smoke-'))
  const gpuDir = FAKE ? fs.mkdtempSync(path.join(os.tmpdir(), 'vbs-smoke-fake-gpu-')) : null
  const env: NodeJS.ProcessEnv = FAKE
    ? { ...process.env, PATH: `${path.join(FIXTURES, 'bin')}${path.delimiter}${process.env.PATH ?? ''}`, FAKE_GPU_STATE_DIR: gpuDir!, FAKE_VLLM_LOAD_MS: '500', FAKE_VLLM_GPU_MIB: '4000', FAKE_VLLM_LATENCY_MS: '20' }
    : process.env
  const apiKey = `vbs-smoke-${crypto.randomBytes(24).toString('base64url')}`
  const service = new Service({
    env,
    overrides: {
      dataDir,
      host: '127.0.0.1',
      port: 0,
      apiKey,
      modelsPath,
      vllmBin: FAKE ? path.join(FIXTURES, 'fake-vllm') : (user?.vllmBin ?? 'vllm'),
      engineLoadTimeoutS: LOAD_TIMEOUT_S,
      gpuPollMs: FAKE ? 500 : 2000,
      idleUnloadMinutes: 0,
    },
  })
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await service.stop().catch((err: unknown) => console.error(`stopping the service: ${describeError(err)}`))
    if (!flag('keep-data')) fs.rmSync(dataDir, { recursive: true, force: true })
    if (gpuDir) fs.rmSync(gpuDir, { recursive: true, force: true })
  }
  cleanUpOnSignals(stop)

  const startedAt = Date.now()
  let machine: Promise<void> = Promise.resolve()
  try {
    const url = await service.start()
    const client = new OpenAI({ apiKey, baseURL: `${url}/v1`, maxRetries: 0, timeout: 30 * 60_000 })
    const api = async <T>(route: string, init: RequestInit = {}): Promise<T> => {
      const res = await fetch(`${url}${route}`, { ...init, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) } })
      const text = await res.text()
      if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${route}: ${res.status} ${text.slice(0, 500)}`)
      return JSON.parse(text) as T
    }
    const engine = (): Promise<EngineStatusBody> => api<EngineStatusBody>('/api/engine')
    const untilReady = async (model: string): Promise<EngineStatusBody> => {
      const deadline = Date.now() + LOAD_TIMEOUT_S * 1000 + 60_000
      for (;;) {
        const s = await engine()
        if (s.state === 'ready' && s.model === model) return s
        if (s.state === 'failed' && s.model === model) throw new Error(`${model} failed to load: ${s.lastError}`)
        if (Date.now() > deadline) throw new Error(`${model} not ready after ${LOAD_TIMEOUT_S} s (state ${s.state}, phase ${s.phase})`)
        await delay(FAKE ? 100 : 250) // fine enough to time a wake from sleep (seconds)
      }
    }
    const gpu = (): Promise<GpuBody> => api<GpuBody>('/api/gpu')

    facts['Service'] = `vllm-batch-server ${VERSION}, Node ${process.version}, ${os.type()} ${os.release()} (${os.arch()})`
    facts['Registry'] = modelsPath
    facts['Models'] = `${first.id} (${first.engine}: ${first.model}), then ${second.id} (${second.engine}: ${second.model})`
    facts['Engine'] = 'not loaded'
    facts['GPU'] = 'not known yet'
    // Discovery runs beside the start (a child process, up to 15 s): the machine is described once it is done.
    machine = (async () => {
      let g = await gpu()
      for (let waited = 0; g.info.name === null && g.info.cpu.brand === null && waited < 20_000; waited += 250) {
        await delay(250)
        g = await gpu()
      }
      const info = g.info
      facts['GPU'] = g.status.available
        ? `${info.name ?? 'unknown'}, ${info.vramTotalMiB ? `${info.vramTotalMiB} MiB` : 'VRAM unknown'}, driver ${info.driverVersion ?? 'unknown'}`
        : `none (${g.status.reason ?? 'no reason given'})`
      facts['CPU'] = `${info.cpu.brand ?? os.cpus()[0]?.model ?? 'unknown'}, ${info.cpu.cores ?? os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM`
    })().catch((err: unknown) => {
      facts['GPU'] = `not read: ${describeError(err)}`
    })

    await step(`load ${first.id}`, async () => {
      await api('/api/engine/start', { method: 'POST', body: JSON.stringify({ model: first.id }) })
      const s = await untilReady(first.id)
      // /version is open on vLLM (like /health); our llama.cpp child has none.
      const version = s.port === null ? null : await fetch(`http://127.0.0.1:${s.port}/version`).then((r) => (r.ok ? (r.json() as Promise<{ version?: string }>) : null)).catch(() => null)
      facts['Engine'] = s.kind === 'vllm' ? `vLLM ${version?.version ?? 'version unknown'}` : s.kind
      return { value: s, detail: `ready (${s.kind}${version?.version ? ` ${version.version}` : ''})` }
    })

    await step('engine refuses requests without its key', async () => {
      const s = await engine()
      const res = await fetch(`http://127.0.0.1:${s.port}/v1/models`)
      if (res.status !== 401) throw new Error(`GET /v1/models straight to the engine without its key answered ${res.status}, not 401`)
      return { value: null, detail: `GET /v1/models on port ${s.port} without the key: 401` }
    })

    const prompt = 'In two sentences, explain what a GPU does.'
    await step(`chat on ${first.id}`, async () => {
      const t0 = performance.now()
      const r = await client.chat.completions.create({ model: first.id, messages: [{ role: 'user', content: prompt }], max_tokens: MAX_TOKENS, temperature: 0 })
      const s = (performance.now() - t0) / 1000
      const out = r.usage?.completion_tokens ?? 0
      if (!r.choices[0]?.message?.content) throw new Error('the answer has no content')
      return { value: r, detail: `${out} tokens in ${s.toFixed(2)} s (${fmt(out / s)} tokens/s): "${r.choices[0].message.content.slice(0, 80).trim()}"` }
    })

    await step(`stream on ${first.id}`, async () => {
      const t0 = performance.now()
      const stream = await client.chat.completions.create({ model: first.id, messages: [{ role: 'user', content: prompt }], max_tokens: MAX_TOKENS, temperature: 0, stream: true, stream_options: { include_usage: true } })
      let ttft: number | null = null
      let chunks = 0
      let text = ''
      let tokens = 0
      for await (const c of stream) {
        const piece = c.choices[0]?.delta?.content ?? ''
        if (piece && ttft === null) ttft = (performance.now() - t0) / 1000
        if (piece) chunks += 1
        text += piece
        if (c.usage) tokens = c.usage.completion_tokens
      }
      const s = (performance.now() - t0) / 1000
      if (chunks < 2) throw new Error(`only ${chunks} content chunk(s) arrived: not streamed`)
      const decode = ttft !== null && s > ttft ? (tokens - 1) / (s - ttft) : null
      return { value: text, detail: `${chunks} chunks, first token after ${fmt(ttft, 2)} s, ${tokens} tokens in ${s.toFixed(2)} s (${fmt(decode)} tokens/s after the first)` }
    })

    await step(`batch of ${REQUESTS} on ${first.id}`, async () => {
      const topics = ['rivers', 'stars', 'bread', 'trains', 'bees', 'glass', 'maps', 'snow']
      const input = Array.from({ length: REQUESTS }, (_, i) =>
        JSON.stringify({
          custom_id: `smoke-${i + 1}`,
          method: 'POST',
          url: '/v1/chat/completions',
          body: { model: first.id, messages: [{ role: 'user', content: `Write one sentence about ${topics[i % topics.length]} (request ${i + 1}).` }], max_tokens: MAX_TOKENS, temperature: 0 },
        }),
      ).join('\n')
      const t0 = performance.now()
      const file = await client.files.create({ file: new File([`${input}\n`], 'smoke.jsonl'), purpose: 'batch' })
      const created = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
      let batch = created
      const deadline = Date.now() + 60 * 60_000
      while (!['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) {
        if (Date.now() > deadline) throw new Error(`batch ${batch.id} still ${batch.status} after an hour`)
        await delay(FAKE ? 100 : 1000)
        batch = await client.batches.retrieve(batch.id)
      }
      const s = (performance.now() - t0) / 1000
      if (batch.status !== 'completed') throw new Error(`batch ${batch.id} ended ${batch.status}: ${JSON.stringify(batch.errors ?? null)}`)
      const counts = batch.request_counts
      if (!counts || counts.completed !== REQUESTS || counts.failed !== 0) throw new Error(`batch ${batch.id}: ${JSON.stringify(counts)}`)
      const output = await (await client.files.content(batch.output_file_id!)).text()
      const rows = output.trim().split('\n').map((l) => JSON.parse(l) as { custom_id: string; response: { status_code: number; body: { usage?: { completion_tokens: number } } } })
      const ids = new Set(rows.map((r) => r.custom_id))
      if (rows.length !== REQUESTS || ids.size !== REQUESTS || rows.some((r) => r.response.status_code !== 200)) {
        throw new Error(`the output holds ${rows.length} lines, ${ids.size} distinct ids, ${rows.filter((r) => r.response.status_code !== 200).length} not 200`)
      }
      const tokens = rows.reduce((sum, r) => sum + (r.response.body.usage?.completion_tokens ?? 0), 0)
      return { value: batch, detail: `${REQUESTS} completed, 0 failed, in ${s.toFixed(1)} s: ${fmt(REQUESTS / s, 2)} requests/s, ${tokens} output tokens (${fmt(tokens / s)} tokens/s)` }
    })

    for (const [from, to] of [[first, second], [second, first]] as const) {
      await step(`swap ${from.id} -> ${to.id}`, async () => {
        // With `sleep: true` in models.yaml the model left goes to sleep, and the way back wakes it: the detail
        // says which happened, so the report times a cold start and a wake from sleep side by side.
        const asleep = (await engine()).pool.find((w) => w.model === to.id && w.state === 'sleeping')
        const t0 = performance.now()
        await api('/api/engine/switch', { method: 'POST', body: JSON.stringify({ model: to.id }) })
        const after = await untilReady(to.id)
        const ready = (performance.now() - t0) / 1000
        const r = await client.chat.completions.create({ model: to.id, messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 16, temperature: 0 })
        if (r.model !== to.id) throw new Error(`answered by ${r.model}, not ${to.id}`)
        const how = asleep ? (asleep.pid === after.pid ? 'woken from sleep (same process)' : 'asleep, but started afresh') : 'started'
        const left = (await engine()).pool.some((w) => w.model === from.id && w.state === 'sleeping') ? `${from.id} asleep in the warm pool` : `${from.id} stopped`
        return { value: null, detail: `${how}, ready after ${ready.toFixed(1)} s, then answered as ${r.model}; ${left}` }
      })
    }

    await step('GPU temperatures', async () => {
      const g = await gpu()
      if (!g.status.available) throw new Error(`no GPU readings: ${g.status.reason}`)
      const during = g.history.filter((h) => h.at >= startedAt)
      const temps = during.map((h) => h.temperatureC).filter((t): t is number => t !== null)
      if (temps.length === 0) throw new Error('no temperature readings during the run')
      const used = during.map((h) => h.memoryUsedMiB).filter((m): m is number => m !== null)
      const power = during.map((h) => h.powerW).filter((p): p is number => p !== null)
      const detail =
        `${temps.length} samples: start ${temps[0]} °C, max ${Math.max(...temps)} °C, now ${g.current?.temperatureC ?? '–'} °C; ` +
        `memory used up to ${used.length ? Math.max(...used) : '–'} MiB of ${g.current?.memoryTotalMiB ?? '–'}; power up to ${power.length ? fmt(Math.max(...power)) : '–'} W`
      return { value: g, detail }
    })
  } catch (err) {
    if (!(err instanceof StepFailed)) steps.push({ name: 'run', ok: false, seconds: (Date.now() - startedAt) / 1000, detail: describeError(err) })
  } finally {
    await machine
    await stop()
  }
  const text = report()
  fs.writeFileSync(OUT, text)
  process.stdout.write(text)
  console.error(`report written to ${OUT}`)
  return steps.length > 0 && steps.every((s) => s.ok) ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(describeError(err))
    process.exit(1)
  },
)
