/**
 * Benchmark: the embedded llama.cpp engine through the service against node-llama-cpp used directly.
 *
 *   npx tsx tests/bench/llama-throughput.ts [--parallel P] [--rounds R] [--repeat K] [--model tiny|small|medium|E,L,F]
 *     [--only a,b,c] [--env NAME=VALUE]... [--cpu-prof DIR] [--service-output DIR]
 *
 * One model, written by tests/helpers/tiny-gguf.ts into a temp dir (seeded random F32 weights that llama.cpp
 * really runs on the CPU). `--model` picks its dims: `small` (default: E 256, 4 blocks, F 768, 13.7 MB, about
 * 1.5 ms a token on one thread) keeps llama.cpp's work per token well above the HTTP and JS work per request;
 * `tiny` (the tests' model, E 64, 2 blocks, ~0.25 ms a token) is a stress case where they dominate.
 * One thread, no GPU layers, the same context size and the same P parallel sequences (default 4) everywhere.
 *
 * (a) Batch through the service. The service runs as `npm run serve` does (its command read from package.json)
 *     with a temp data dir, VBS_MODELS naming one llama.cpp model (`parallel: P`, `threads: 1`,
 *     `gpu_layers: 0`) and VBS_VLLM_BIN pointing at nothing. The model is loaded first (POST /api/engine/start,
 *     GET /api/engine until ready), then warm-up requests, so load time is outside. The 64-line JSONL
 *     (temperature 0, max_tokens 32) is uploaded and the batch created with the `openai` SDK, twice: the
 *     first batch after a load runs markedly slower (JIT, first shapes), so it is a warm-up shown apart, as
 *     the direct side's first pass is. tokens/s = the completion tokens of the output file / the service's
 *     own window "first request sent to last result committed": from min(results.started_at) in
 *     <data>/vbs.sqlite (read with better-sqlite3, readonly; the runner stamps it just before it sends the
 *     request to the engine) to the `updatedAt` of the first progress snapshot with every request committed
 *     (the `batch.progress` events of GET /api/events: the runner makes it right after its last commit; the
 *     finalizer clears the stored one). Both are the service's Date.now(). Also shown: the engine window
 *     (min started_at to max finished_at, the last answer received, before its commit) and the client's wall
 *     time from batches.create to the `batch.status` -> completed event (includes validation, the scheduler
 *     picking the job up and the output file). Diagnostic: the same requests, 2 × P in flight as the runner
 *     sends them, POSTed by this script straight to the engine child's port (no service in between).
 * (b) The same 64 requests straight through node-llama-cpp in this process: getLlama({gpu: false,
 *     build: 'never'}), loadModel, createContext({sequences: P, threads: 1, contextSize: the service's}), P
 *     workers, each on its own sequence, cleared between requests as the server's pool does. Two ways a user
 *     would do it: (b) LlamaChat per request with the model's chat wrapper (resolveChatWrapper, which the
 *     server renders with too), greedy, maxTokens 32; (b-loop) the server's own token loop
 *     (main/engine/llama-server/generate.ts: sequence.evaluate + detokenize + stop matching) on the prompt and
 *     stop triggers the server derives. tokens/s = completion tokens / wall time (first request started to
 *     last ended). Warm-up requests and one unmeasured pass of each way first; the two ways alternate order.
 *     The target (a) / (b) >= 0.90 is checked against the faster of (b) and (b-loop).
 * (c) Single stream: 8 requests of 128 tokens, one at a time: through /v1/chat/completions of the service
 *     (non-streamed, and streamed with include_usage, with the SDK), client-side wall time over the 8 requests;
 *     against LlamaChat and the server's loop on one sequence of the same P-sequence context in this process.
 *     Diagnostics: whole answers straight to the child's port; streamed with a plain node:http client (chunks
 *     counted, not parsed) through the service and straight to the child.
 *
 * Every request must generate exactly max_tokens (the model never emits an end token): checked from usage
 * (the output file, vbs.sqlite, the responses) and from the direct runs' own counts (LlamaChat: the
 * sequence's token meter). Rounds alternate which side goes first; the service and the direct run never
 * overlap (the service and its engine are stopped before a direct run, and the direct model is disposed before
 * the service starts). Medians and ranges over the rounds; ratios per round, then their median. CPU seconds
 * of the service, of the engine child (its main JS thread apart from its other threads) and of this process
 * in the direct runs are read from /proc over each measured window.
 *
 * `--rounds R` (default 7) and `--repeat K` (default 3; about 12 minutes in all): three rounds of one cannot
 * resolve a 10 % difference on a noisy 2-core VM. `--repeat K` runs each measured part K times per round, interleaved with its counterparts, and
 * keeps the median: on a shared VM the CPU's speed drifts by tens of percent over seconds, so neighbours in
 * time compare better than distant ones.
 * `--env NAME=VALUE` sets a variable for the service (e.g. VBS_BATCH_CONCURRENCY=4): for experiments.
 * `--cpu-prof DIR` profiles the measured windows: the service and its engine child through a preload in
 * NODE_OPTIONS (the child inherits it) that starts and stops the inspector's profiler on SIGUSR2, the direct
 * runs through the inspector in this process; each profile's self time by function is printed. Profiling
 * slows everything down: its figures are for finding where time goes, not for the ratio. Every child
 * process and temp dir is removed at the end, also on an error or Ctrl-C. A benchmark, not a test: a missed
 * target prints MISS; the exit status is non-zero only when something broke.
 */
import { execFileSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import OpenAI from 'openai'
import type { ChatHistoryItem, ChatWrapper, Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp'
import { generate } from '../../main/engine/llama-server/generate'
import { serveArgs } from '../helpers/serve-command'
import { TINY_GGUF_WORDS, writeTinyGguf, type TinyGgufOptions } from '../helpers/tiny-gguf'
import { prng } from '../helpers/prng'
import { spawnReady } from '../helpers/spawn-ready'
import { cleanUpOnSignals, delay, describeError, within } from './bench-util'
import { summarizeProfiles } from './cpu-profiles'
import { commandLine, processTree } from './proc-memory'

type NodeLlamaCpp = typeof import('node-llama-cpp')

const ROOT = path.resolve(__dirname, '..', '..')
const MODEL_ID = 'bench-llama'
const ENDPOINT = '/v1/chat/completions'

const BATCH_REQUESTS = 64
const BATCH_TOKENS = 32
const SINGLE_REQUESTS = 8
const SINGLE_TOKENS = 128
const CONTEXT_SIZE = 2048
const TARGET_RATIO = 0.9

const LISTEN_TIMEOUT_MS = 60_000
const READY_TIMEOUT_MS = 120_000
const JOB_TIMEOUT_MS = 15 * 60_000
const STOP_TIMEOUT_MS = 30_000
const KILL_WAIT_MS = 5_000

/** Model presets (writeTinyGguf options). tiny is the tests' default. */
const PRESETS: Record<string, TinyGgufOptions> = {
  tiny: {},
  small: { embeddingLength: 256, blockCount: 4, headCount: 8, headCountKv: 4, feedForwardLength: 768 },
  medium: { embeddingLength: 512, blockCount: 8, headCount: 8, headCountKv: 4, feedForwardLength: 1408 },
}
const DEFAULT_PRESET = 'small'

// ---------------------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------------------

type Part = 'a' | 'b' | 'c'

interface Options {
  parallel: number
  rounds: number
  /** Each measurement this many times per round, interleaved; the round keeps the median. */
  repeat: number
  modelName: string
  model: TinyGgufOptions
  only: Part[]
  env: Record<string, string>
  cpuProfDir: string | null
  outputDir: string | null
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { parallel: 4, rounds: 7, repeat: 3, modelName: DEFAULT_PRESET, model: PRESETS[DEFAULT_PRESET], only: ['a', 'b', 'c'], env: {}, cpuProfDir: null, outputDir: null }
  const usage =
    'usage: npx tsx tests/bench/llama-throughput.ts [--parallel P] [--rounds R] [--repeat K] [--model tiny|small|medium|E,L,F] [--only a,b,c] [--env NAME=VALUE]... [--cpu-prof DIR] [--service-output DIR]'
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const eq = arg.indexOf('=')
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg
    const value = (): string => {
      const v = eq > 0 && arg.startsWith('--') ? arg.slice(eq + 1) : argv[++i]
      if (v === undefined) throw new Error(`${name} needs a value (${usage})`)
      return v
    }
    const positive = (v: string, max: number): number => {
      const n = Number(v)
      if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new Error(`${name} needs an integer from 1 to ${max}, got ${JSON.stringify(v)}`)
      return n
    }
    if (name === '--parallel') o.parallel = positive(value(), 64)
    else if (name === '--rounds') o.rounds = positive(value(), 100)
    else if (name === '--repeat') o.repeat = positive(value(), 100)
    else if (name === '--model') {
      const v = value()
      if (PRESETS[v]) {
        o.modelName = v
        o.model = PRESETS[v]
      } else {
        const m = /^(\d+),(\d+),(\d+)$/.exec(v)
        if (!m) throw new Error(`--model takes tiny, small, medium or E,L,F (hidden size, blocks, feed-forward size), got ${JSON.stringify(v)}`)
        const [E, L, F] = [Number(m[1]), Number(m[2]), Number(m[3])]
        const heads = E % 8 === 0 ? 8 : 4
        o.modelName = `E${E},L${L},F${F}`
        o.model = { embeddingLength: E, blockCount: L, feedForwardLength: F, headCount: heads, headCountKv: heads / 2 }
      }
    } else if (name === '--only') {
      const parts = value().split(',').map((p) => p.trim())
      for (const p of parts) if (p !== 'a' && p !== 'b' && p !== 'c') throw new Error(`--only takes a, b and/or c, got ${JSON.stringify(p)}`)
      o.only = parts as Part[]
    } else if (name === '--env') {
      const v = value()
      const at = v.indexOf('=')
      if (at <= 0) throw new Error(`--env needs NAME=VALUE, got ${JSON.stringify(v)}`)
      o.env[v.slice(0, at)] = v.slice(at + 1)
    } else if (name === '--cpu-prof') o.cpuProfDir = path.resolve(value())
    else if (name === '--service-output') o.outputDir = path.resolve(value())
    else if (name === '--help' || name === '-h') {
      console.log(usage)
      process.exit(0)
    } else throw new Error(`unknown argument ${JSON.stringify(arg)} (${usage})`)
  }
  return o
}

// ---------------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------------

const f = (n: number | null | undefined, digits = 1): string => (n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(digits))
const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS')


function median(xs: readonly number[]): number {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** "median (min–max)" of a series. */
function mr(xs: readonly number[], digits = 0): string {
  const s = xs.filter(Number.isFinite)
  if (s.length === 0) return 'n/a'
  if (s.length === 1) return f(s[0], digits)
  return `${f(median(s), digits)} (${f(Math.min(...s), digits)}–${f(Math.max(...s), digits)})`
}

const CLK_TCK = ((): number => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    return Number.isFinite(n) && n > 0 ? n : 100
  } catch {
    return 100
  }
})()

/** utime + stime in seconds of /proc/<path>/stat, or null when gone. */
function statCpu(file: string): number | null {
  let stat: string
  try {
    stat = fs.readFileSync(file, 'utf8')
  } catch {
    return null
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
}

/** CPU seconds of a process: all threads, and its main thread alone (tid = pid: the JS event loop). */
interface Cpu {
  total: number | null
  main: number | null
}
function cpuOf(pid: number | null): Cpu {
  if (pid === null) return { total: null, main: null }
  return { total: statCpu(`/proc/${pid}/stat`), main: statCpu(`/proc/${pid}/task/${pid}/stat`) }
}
function cpuDelta(a: Cpu, b: Cpu): Cpu {
  return {
    total: a.total !== null && b.total !== null ? b.total - a.total : null,
    main: a.main !== null && b.main !== null ? b.main - a.main : null,
  }
}

// ---------------------------------------------------------------------------------------------------
// Clean-up: everything started is registered at once, and ended whatever happens
// ---------------------------------------------------------------------------------------------------

interface Ctx {
  temps: string[]
  services: Service[]
  direct: Direct | null
  step: string
}
const ctx: Ctx = { temps: [], services: [], direct: null, step: 'starting' }

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  ctx.temps.push(dir)
  return dir
}

let cleaning: Promise<void> | null = null
function cleanup(): Promise<void> {
  return (cleaning ??= (async () => {
    for (const service of ctx.services.splice(0)) await stopService(service).catch((err: unknown) => console.error(`clean-up: ${describeError(err)}`))
    if (ctx.direct) await ctx.direct.dispose().catch(() => undefined)
    ctx.direct = null
    for (const dir of ctx.temps.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
  })())
}

// ---------------------------------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------------------------------

/** The 64 prompts (seeded: the same every run), ~10-20 words each. */
function makePrompts(n: number): string[] {
  const rand = prng(7)
  const pick = (): string => TINY_GGUF_WORDS[Math.floor(rand() * TINY_GGUF_WORDS.length)]
  const out: string[] = []
  for (let i = 1; i <= n; i++) {
    const words = Array.from({ length: 6 + Math.floor(rand() * 10) }, pick).join(' ')
    out.push(`question ${i}: tell me a short story about the ${pick()} and the ${pick()}, ${words}`)
  }
  return out
}

function batchInput(prompts: readonly string[]): string {
  return prompts
    .map((content, i) =>
      JSON.stringify({ custom_id: `q-${i + 1}`, method: 'POST', url: ENDPOINT, body: { model: MODEL_ID, messages: [{ role: 'user', content }], temperature: 0, max_tokens: BATCH_TOKENS } }),
    )
    .join('\n')
    .concat('\n')
}

// ---------------------------------------------------------------------------------------------------
// The service under test
// ---------------------------------------------------------------------------------------------------

interface Service {
  child: ChildProcess
  exited: Promise<void>
  /** Everything it printed so far. */
  output: () => string
  url: string | null
  key: string
  dataDir: string
  /** The engine child (our llama-server), once ready (GET /api/engine's pid). */
  enginePid: number | null
}

interface EngineView {
  kind: string
  state: string
  model: string | null
  pid: number | null
  port: number | null
  startedAt: number | null
  readyAt: number | null
  lastError: string | null
  logTail: string[]
}

let serviceCount = 0

function modelsYaml(modelFile: string, o: Options): string {
  return [
    `default: ${MODEL_ID}`,
    'models:',
    `  - id: ${MODEL_ID}`,
    '    engine: llama.cpp',
    `    model: ${JSON.stringify(modelFile)}`,
    `    parallel: ${o.parallel}`,
    '    threads: 1',
    '    gpu_layers: 0',
    `    context_size: ${CONTEXT_SIZE}`,
    '',
  ].join('\n')
}

/**
 * A preload (NODE_OPTIONS=--require, which the engine child inherits; --cpu-prof itself is not allowed there)
 * that profiles a process's main thread with the inspector between two SIGUSR2s, so a profile covers one
 * measured window and not the start-up: <dir>/<label>-<pid>-<n>.cpuprofile.
 */
let hookFile: string | null = null
function profileHook(dir: string): string {
  if (hookFile) return hookFile
  hookFile = path.join(tempDir('vbs-bench-llama-hook-'), 'cpu-profile-hook.cjs')
  fs.writeFileSync(
    hookFile,
    `const { isMainThread } = require('node:worker_threads')
if (isMainThread) {
  const inspector = require('node:inspector')
  const fs = require('node:fs')
  const path = require('node:path')
  const session = new inspector.Session()
  session.connect()
  session.post('Profiler.enable')
  session.post('Profiler.setSamplingInterval', { interval: 1000 })
  let on = false
  let n = 0
  process.on('SIGUSR2', () => {
    if (!on) {
      on = true
      session.post('Profiler.start')
      return
    }
    on = false
    session.post('Profiler.stop', (err, result) => {
      if (err) return
      const label = path.basename(process.argv[1] || 'node').replace(/\\.[^.]+$/, '')
      n += 1
      fs.writeFileSync(path.join(${JSON.stringify(dir)}, label + '-' + process.pid + '-' + n + '.cpuprofile'), JSON.stringify(result.profile))
    })
  })
}
`,
  )
  return hookFile
}

/** Starts or stops (every other call) the profile of the service and of its engine child (--cpu-prof). */
async function toggleProfiles(service: Service): Promise<void> {
  if (!profiling) return
  for (const pid of [service.child.pid, service.enginePid]) if (pid) process.kill(pid, 'SIGUSR2')
  await delay(50)
}
let profiling = false

/** The same for this process (the direct runs), through the inspector. */
let selfSession: import('node:inspector').Session | null = null
async function profileSelf<T>(label: string, dir: string | null, work: () => Promise<T>): Promise<T> {
  if (!dir) return await work()
  const inspector = await import('node:inspector')
  selfSession ??= new inspector.Session()
  const session = selfSession
  try {
    session.connect()
  } catch {
    // connected already
  }
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => session.post(method, params ?? {}, (err: Error | null, result?: unknown) => (err ? reject(err) : resolve(result))))
  await post('Profiler.enable')
  await post('Profiler.setSamplingInterval', { interval: 1000 })
  await post('Profiler.start')
  try {
    return await work()
  } finally {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown }
    fs.writeFileSync(path.join(dir, `${label}.cpuprofile`), JSON.stringify(profile))
  }
}

async function startService(modelFile: string, o: Options): Promise<Service> {
  const dataDir = tempDir('vbs-bench-llama-data-')
  const modelsPath = path.join(dataDir, 'bench-models.yaml')
  fs.writeFileSync(modelsPath, modelsYaml(modelFile, o))
  const key = `bench-${Math.random().toString(36).slice(2)}`
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('VBS_') && k !== 'NODE_OPTIONS') env[k] = v
  Object.assign(env, {
    VBS_DATA_DIR: dataDir,
    VBS_HOST: '127.0.0.1',
    VBS_PORT: '0',
    VBS_API_KEY: key,
    VBS_MODELS: modelsPath,
    VBS_VLLM_BIN: path.join(dataDir, 'no-vllm-here'),
    VBS_LOG_LEVEL: 'warn',
    ...(o.cpuProfDir ? { NODE_OPTIONS: `--require ${profileHook(o.cpuProfDir)}` } : {}),
    ...o.env,
  })
  const started = spawnReady(process.execPath, serveArgs(), { cwd: ROOT, env }, { pattern: /\(this machine: (http:\/\/[^)]+)\)/, what: 'the service', timeoutMs: LISTEN_TIMEOUT_MS })
  const { child } = started
  serviceCount += 1
  if (o.outputDir) {
    fs.mkdirSync(o.outputDir, { recursive: true })
    const keep = fs.createWriteStream(path.join(o.outputDir, `service-${serviceCount}.log`))
    child.stdout?.pipe(keep)
    child.stderr?.pipe(keep)
  }
  const service: Service = { child, exited: started.exited.then(() => undefined), output: started.output, url: null, key, dataDir, enginePid: null }
  ctx.services.push(service)
  service.url = await started.ready
  return service
}

/** SIGTERM (the service stops its engine), a bounded wait, then SIGKILL to whatever is left of its tree. */
async function stopService(service: Service): Promise<void> {
  const { child } = service
  const root = child.pid
  if (root === undefined) return
  const started = processTree(root).map((pid) => ({ pid, cmd: commandLine(pid) }))
  if (service.enginePid !== null && !started.some((p) => p.pid === service.enginePid)) started.push({ pid: service.enginePid, cmd: commandLine(service.enginePid) })
  const stillRunning = (): number[] => started.filter((p) => p.cmd !== '' && commandLine(p.pid) === p.cmd).map((p) => p.pid)
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  const stopped = await within(service.exited, STOP_TIMEOUT_MS)
  if (!stopped) console.error(`the service did not stop within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM; SIGKILL`)
  for (let waited = 0; stillRunning().length > 0 && waited < KILL_WAIT_MS; waited += 100) await delay(100)
  for (const pid of stillRunning()) {
    console.error(`clean-up: SIGKILL to pid ${pid} (${commandLine(pid).slice(0, 80)}) left running`)
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone
    }
  }
  await within(service.exited, KILL_WAIT_MS)
  const i = ctx.services.indexOf(service)
  if (i >= 0) ctx.services.splice(i, 1)
}

async function api<T>(service: Service, method: 'GET' | 'POST', pathname: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
  const res = await fetch(`${service.url}${pathname}`, {
    method,
    headers: { authorization: `Bearer ${service.key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(timeoutMs),
  })
  if (!res.ok) throw new Error(`${method} ${pathname}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

function client(service: Service): OpenAI {
  return new OpenAI({ apiKey: service.key, baseURL: `${service.url}/v1`, maxRetries: 0, timeout: 10 * 60_000 })
}

/** POST /api/engine/start, then GET /api/engine until ready; returns the load time on the service's clock. */
async function loadEngine(service: Service): Promise<{ loadMs: number | null; engine: EngineView }> {
  await api(service, 'POST', '/api/engine/start', { model: MODEL_ID })
  const deadline = Date.now() + READY_TIMEOUT_MS
  for (;;) {
    const engine = await api<EngineView>(service, 'GET', '/api/engine')
    if (engine.state === 'ready' && engine.model === MODEL_ID) {
      service.enginePid = engine.pid
      return { loadMs: engine.readyAt !== null && engine.startedAt !== null ? engine.readyAt - engine.startedAt : null, engine }
    }
    if (engine.state === 'failed') throw new Error(`the engine failed to load: ${engine.lastError}\n${engine.logTail.join('\n')}`)
    if (Date.now() > deadline) throw new Error(`the engine was not ready within ${READY_TIMEOUT_MS / 1000} s (state ${engine.state})`)
    await delay(100)
  }
}

// ---------------------------------------------------------------------------------------------------
// SSE: GET /api/events, for the moment the batch completes (no polling load on the service)
// ---------------------------------------------------------------------------------------------------

interface SseEvent {
  event: string
  data: unknown
  at: number
}

class EventStream {
  private req: http.ClientRequest | null = null
  private buffer = ''
  private listeners: ((e: SseEvent) => void)[] = []
  readonly opened: Promise<void>

  constructor(service: Service) {
    this.opened = new Promise((resolve, reject) => {
      const req = http.get(`${service.url}/api/events`, { headers: { authorization: `Bearer ${service.key}`, accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET /api/events: ${res.statusCode}`))
          res.resume()
          return
        }
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => this.feed(chunk))
        res.on('error', () => undefined)
      })
      req.on('error', (err) => reject(err))
      this.req = req
      // resolved by the server's first event ('hello')
      const onHello = (e: SseEvent): void => {
        if (e.event === 'hello') {
          this.off(onHello)
          resolve()
        }
      }
      this.on(onHello)
    })
  }

  on(l: (e: SseEvent) => void): void {
    this.listeners.push(l)
  }
  off(l: (e: SseEvent) => void): void {
    this.listeners = this.listeners.filter((x) => x !== l)
  }

  private feed(chunk: string): void {
    const at = Date.now()
    this.buffer += chunk
    let cut: number
    while ((cut = this.buffer.indexOf('\n\n')) !== -1) {
      const block = this.buffer.slice(0, cut)
      this.buffer = this.buffer.slice(cut + 2)
      let event = 'message'
      let data = ''
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7)
        else if (line.startsWith('data: ')) data += line.slice(6)
      }
      if (!data) continue
      let parsed: unknown
      try {
        parsed = JSON.parse(data)
      } catch {
        continue
      }
      for (const l of [...this.listeners]) l({ event, data: parsed, at })
    }
  }

  close(): void {
    this.req?.destroy()
  }
}

// ---------------------------------------------------------------------------------------------------
// (a) The batch through the service
// ---------------------------------------------------------------------------------------------------

interface ProgressView {
  completed: number
  failed: number
  total: number
  updatedAt: number
}

interface BatchFigures {
  completionTokens: number
  promptTokens: number
  /** first request sent -> last result committed (service clock), s. */
  commitWindowS: number
  /** first request sent -> last answer received (service clock), s. */
  engineWindowS: number
  tps: number
  engineTps: number
  /** batches.create -> completed event (client clock), s. */
  wallS: number
  /** batches.create -> first request sent; last commit -> completed event (mixed clocks, same machine), s. */
  leadS: number
  tailS: number
  /** Most requests in flight at once (from started_at / finished_at), and the mean. */
  maxInFlight: number
  meanInFlight: number
  /** Mean time from a request's send to its answer, ms. */
  meanLatencyMs: number
  serviceCpu: Cpu
  engineCpu: Cpu
  texts: Map<string, string>
}

async function runBatch(service: Service, prompts: readonly string[], inputFile: string, profile = false): Promise<BatchFigures> {
  const openai = client(service)
  ctx.step = 'uploading the batch input'
  const file = await openai.files.create({ file: fs.createReadStream(inputFile), purpose: 'batch' })
  const events = new EventStream(service)
  await events.opened
  let batchId: string | null = null
  const early: SseEvent[] = []
  let resolveDone: (e: SseEvent) => void = () => undefined
  let rejectDone: (err: Error) => void = () => undefined
  const done = new Promise<SseEvent>((resolve, reject) => {
    resolveDone = resolve
    rejectDone = reject
  })
  /** The earliest progress snapshot with every request committed: the runner makes it right after its last commit. */
  let lastCommit: number | null = null
  const consider = (e: SseEvent): void => {
    if (e.event === 'batch.progress') {
      const d = e.data as { id: string; progress: ProgressView }
      const p = d.progress
      if (d.id === batchId && p.total > 0 && p.completed + p.failed >= p.total && (lastCommit === null || p.updatedAt < lastCommit)) lastCommit = p.updatedAt
      return
    }
    if (e.event !== 'batch.status') return
    const d = e.data as { batch: { id: string; status: string; errors: unknown }; to: string }
    if (d.batch.id !== batchId) return
    if (d.to === 'completed') resolveDone(e)
    else if (['failed', 'expired', 'cancelled', 'cancelling'].includes(d.to)) rejectDone(new Error(`the batch went to ${d.to}: ${JSON.stringify(d.batch.errors)}`))
  }
  events.on((e) => (batchId === null ? early.push(e) : consider(e)))

  ctx.step = 'running the batch'
  const serviceCpu0 = cpuOf(service.child.pid ?? null)
  const engineCpu0 = cpuOf(service.enginePid)
  if (profile) await toggleProfiles(service)
  const createdAt = Date.now()
  let doneEvent: SseEvent
  try {
    const batch = await openai.batches.create({ input_file_id: file.id, endpoint: ENDPOINT, completion_window: '24h' })
    batchId = batch.id
    for (const e of early.splice(0)) consider(e)
    let timer: NodeJS.Timeout | undefined
    doneEvent = await Promise.race([
      done,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the batch did not complete within ${JOB_TIMEOUT_MS / 1000} s`)), JOB_TIMEOUT_MS)
      }),
    ]).finally(() => clearTimeout(timer))
  } finally {
    events.close()
    if (profile) await toggleProfiles(service)
  }
  const serviceCpu = cpuDelta(serviceCpu0, cpuOf(service.child.pid ?? null))
  const engineCpu = cpuDelta(engineCpu0, cpuOf(service.enginePid))

  ctx.step = 'reading the batch results'
  const job = await api<{ output_file_id: string | null; request_counts: { completed: number; failed: number; total: number } }>(service, 'GET', `/api/batches/${batchId}`)
  if (lastCommit === null) throw new Error('no batch.progress event showed every request committed')
  if (job.request_counts.completed !== prompts.length || job.request_counts.failed !== 0) throw new Error(`request counts ${JSON.stringify(job.request_counts)}`)
  const out = await (await openai.files.content(job.output_file_id!)).text()
  const texts = new Map<string, string>()
  let completionTokens = 0
  let promptTokens = 0
  for (const line of out.trim().split('\n')) {
    const r = JSON.parse(line) as { custom_id: string; response: { status_code: number; body: OpenAI.Chat.ChatCompletion } }
    const u = r.response.body.usage
    if (r.response.status_code !== 200 || !u) throw new Error(`${r.custom_id}: status ${r.response.status_code}`)
    if (u.completion_tokens !== BATCH_TOKENS) throw new Error(`${r.custom_id}: ${u.completion_tokens} completion tokens, not ${BATCH_TOKENS}`)
    if (r.response.body.choices[0].finish_reason !== 'length') throw new Error(`${r.custom_id}: finish_reason ${r.response.body.choices[0].finish_reason}`)
    completionTokens += u.completion_tokens
    promptTokens += u.prompt_tokens
    texts.set(r.custom_id, r.response.body.choices[0].message.content ?? '')
  }
  if (texts.size !== prompts.length) throw new Error(`the output file holds ${texts.size} of ${prompts.length} results`)

  const db = new Database(path.join(service.dataDir, 'vbs.sqlite'), { readonly: true, fileMustExist: true })
  let rows: { started_at: number; finished_at: number; output_tokens: number }[]
  try {
    rows = db
      .prepare('SELECT r.started_at, r.finished_at, r.output_tokens FROM results r JOIN batches b ON b.seq = r.batch_seq WHERE b.id = ?')
      .all(batchId) as typeof rows
  } finally {
    db.close()
  }
  if (rows.length !== prompts.length) throw new Error(`vbs.sqlite holds ${rows.length} results`)
  const sqliteTokens = rows.reduce((n, r) => n + r.output_tokens, 0)
  if (sqliteTokens !== completionTokens) throw new Error(`vbs.sqlite counts ${sqliteTokens} output tokens, the output file ${completionTokens}`)
  const firstSent = Math.min(...rows.map((r) => r.started_at))
  const lastAnswer = Math.max(...rows.map((r) => r.finished_at))
  const committedAt: number = lastCommit
  // In flight: sweep over the send/answer instants.
  const marks = rows.flatMap((r) => [
    { at: r.started_at, d: 1 },
    { at: r.finished_at, d: -1 },
  ])
  marks.sort((x, y) => x.at - y.at || x.d - y.d)
  let inFlight = 0
  let maxInFlight = 0
  let area = 0
  let prev = firstSent
  for (const m of marks) {
    area += inFlight * (m.at - prev)
    prev = m.at
    inFlight += m.d
    maxInFlight = Math.max(maxInFlight, inFlight)
  }
  const commitWindowS = (committedAt - firstSent) / 1000
  const engineWindowS = (lastAnswer - firstSent) / 1000
  return {
    completionTokens,
    promptTokens,
    commitWindowS,
    engineWindowS,
    tps: completionTokens / commitWindowS,
    engineTps: completionTokens / engineWindowS,
    wallS: (doneEvent.at - createdAt) / 1000,
    leadS: (firstSent - createdAt) / 1000,
    tailS: (doneEvent.at - committedAt) / 1000,
    maxInFlight,
    meanInFlight: area / (lastAnswer - firstSent),
    meanLatencyMs: rows.reduce((n, r) => n + (r.finished_at - r.started_at), 0) / rows.length,
    serviceCpu,
    engineCpu,
    texts,
  }
}

// ---------------------------------------------------------------------------------------------------
// (c) Single stream through the service
// ---------------------------------------------------------------------------------------------------

interface SingleFigures {
  tokens: number
  wallS: number
  tps: number
  /** Mean time to the first content chunk (streamed only), ms. */
  ttftMs: number | null
  serviceCpu: Cpu
  engineCpu: Cpu
}

async function runSingleService(service: Service, prompts: readonly string[], stream: boolean, profile = false): Promise<SingleFigures> {
  const openai = client(service)
  ctx.step = `single stream through the service (${stream ? 'streamed' : 'whole'})`
  let tokens = 0
  let ttft = 0
  if (profile) await toggleProfiles(service)
  const serviceCpu0 = cpuOf(service.child.pid ?? null)
  const engineCpu0 = cpuOf(service.enginePid)
  const t0 = performance.now()
  for (const content of prompts) {
    const body = { model: MODEL_ID, messages: [{ role: 'user' as const, content }], temperature: 0, max_tokens: SINGLE_TOKENS }
    if (!stream) {
      const r = await openai.chat.completions.create(body)
      if (r.usage?.completion_tokens !== SINGLE_TOKENS) throw new Error(`single: ${r.usage?.completion_tokens} completion tokens, not ${SINGLE_TOKENS}`)
      tokens += r.usage.completion_tokens
    } else {
      const start = performance.now()
      let first: number | null = null
      let usage: OpenAI.CompletionUsage | null = null
      const s = await openai.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } })
      for await (const c of s) {
        if (first === null && c.choices[0]?.delta?.content) first = performance.now()
        if (c.usage) usage = c.usage
      }
      if (usage?.completion_tokens !== SINGLE_TOKENS) throw new Error(`single (streamed): ${usage?.completion_tokens} completion tokens, not ${SINGLE_TOKENS}`)
      tokens += usage.completion_tokens
      ttft += (first ?? performance.now()) - start
    }
  }
  const wallS = (performance.now() - t0) / 1000
  const serviceCpu = cpuDelta(serviceCpu0, cpuOf(service.child.pid ?? null))
  const engineCpu = cpuDelta(engineCpu0, cpuOf(service.enginePid))
  if (profile) await toggleProfiles(service)
  return { tokens, wallS, tps: tokens / wallS, ttftMs: stream ? ttft / prompts.length : null, serviceCpu, engineCpu }
}

// ---------------------------------------------------------------------------------------------------
// Diagnostics: the same requests POSTed straight to the engine child's port (no service in between)
// ---------------------------------------------------------------------------------------------------

const childAgent = new http.Agent({ keepAlive: true, maxSockets: 256 })

/** One non-streamed chat completion with plain node:http (to the child or the service); returns its completion tokens. */
function postPlain(base: string, headers: Record<string, string>, content: string, maxTokens: number, priority?: number): Promise<number> {
  const payload = Buffer.from(JSON.stringify({ model: MODEL_ID, messages: [{ role: 'user', content }], temperature: 0, max_tokens: maxTokens, ...(priority !== undefined ? { priority } : {}) }))
  const u = new URL(ENDPOINT, base)
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: childAgent, headers: { ...headers, 'content-type': 'application/json', 'content-length': payload.length } },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.once('error', reject)
        res.once('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          if (res.statusCode !== 200) return reject(new Error(`the engine child answered ${res.statusCode}: ${text.slice(0, 200)}`))
          const n = (JSON.parse(text) as { usage: { completion_tokens: number } }).usage.completion_tokens
          if (n !== maxTokens) return reject(new Error(`the engine child generated ${n} tokens, not ${maxTokens}`))
          resolve(n)
        })
      },
    )
    req.once('error', reject)
    req.end(payload)
  })
}

/**
 * One streamed chat completion (include_usage) read with plain node:http, no SDK: the chunks are only counted
 * and the usage chunk at the end parsed. Returns the completion tokens and the client CPU it took.
 */
function rawStream(base: string, headers: Record<string, string>, content: string, maxTokens: number): Promise<number> {
  const payload = Buffer.from(
    JSON.stringify({ model: MODEL_ID, messages: [{ role: 'user', content }], temperature: 0, max_tokens: maxTokens, stream: true, stream_options: { include_usage: true } }),
  )
  const u = new URL(ENDPOINT, base)
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: childAgent, headers: { ...headers, 'content-type': 'application/json', 'content-length': payload.length } },
      (res) => {
        let tail = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          tail = (tail + c).slice(-4096)
        })
        res.once('error', reject)
        res.once('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`streamed: ${res.statusCode} ${tail.slice(0, 200)}`))
          const m = /"usage":(\{[^}]*\})\}\s*data: \[DONE\]\s*$/.exec(tail)
          if (!m) return reject(new Error(`streamed: no usage chunk at the end: ${tail.slice(-300)}`))
          const n = (JSON.parse(m[1]) as { completion_tokens: number }).completion_tokens
          if (n !== maxTokens) return reject(new Error(`streamed: ${n} completion tokens, not ${maxTokens}`))
          resolve(n)
        })
      },
    )
    req.once('error', reject)
    req.end(payload)
  })
}

/** Diagnostics of (c) streamed: the requests one at a time with the plain client, through the service or straight to the child. */
async function runRawStreams(service: Service, prompts: readonly string[], maxTokens: number, toChild: boolean): Promise<SingleFigures> {
  ctx.step = `streamed with a plain client ${toChild ? "straight to the engine child's port" : 'through the service'}`
  const { base, headers } = await plainTarget(service, toChild)
  let tokens = 0
  const serviceCpu0 = cpuOf(service.child.pid ?? null)
  const engineCpu0 = cpuOf(service.enginePid)
  const t0 = performance.now()
  for (const content of prompts) {
    const n = await rawStream(base, headers, content, maxTokens)
    tokens += n
  }
  const wallS = (performance.now() - t0) / 1000
  return {
    tokens,
    wallS,
    tps: tokens / wallS,
    ttftMs: null,
    serviceCpu: cpuDelta(serviceCpu0, cpuOf(service.child.pid ?? null)),
    engineCpu: cpuDelta(engineCpu0, cpuOf(service.enginePid)),
  }
}

interface ChildFigures {
  tokens: number
  wallS: number
  tps: number
  engineCpu: Cpu
}

/** Where the plain client sends: straight to the engine child's port, or to the service. */
async function plainTarget(service: Service, toChild: boolean): Promise<{ base: string; headers: Record<string, string> }> {
  if (!toChild) return { base: service.url!, headers: { authorization: `Bearer ${service.key}` } }
  const port = (await api<EngineView>(service, 'GET', '/api/engine')).port
  if (port === null) throw new Error('the engine has no port')
  return { base: `http://127.0.0.1:${port}`, headers: {} }
}

/** The prompts with `workers` requests in flight (the runner's 2 × P, or 1: single stream), plain client. */
async function runToChild(service: Service, prompts: readonly string[], maxTokens: number, workers: number, priority?: number, profile = false, toChild = true): Promise<ChildFigures> {
  ctx.step = `plain client ${toChild ? "straight to the engine child's port" : 'through the service'}, ${workers} in flight`
  const { base, headers } = await plainTarget(service, toChild)
  let next = 0
  let tokens = 0
  if (profile) await toggleProfiles(service)
  const cpu0 = cpuOf(service.enginePid)
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: Math.min(workers, prompts.length) }, async () => {
      for (;;) {
        const i = next++
        if (i >= prompts.length) return
        const n = await postPlain(base, headers, prompts[i], maxTokens, priority) // not `tokens += await`: that loses updates
        tokens += n
      }
    }),
  )
  const wallS = (performance.now() - t0) / 1000
  const engineCpu = cpuDelta(cpu0, cpuOf(service.enginePid))
  if (profile) await toggleProfiles(service)
  return { tokens, wallS, tps: tokens / wallS, engineCpu }
}

// ---------------------------------------------------------------------------------------------------
// (b) and (c) straight through node-llama-cpp, in this process
// ---------------------------------------------------------------------------------------------------

let libPromise: Promise<NodeLlamaCpp> | null = null
const loadLib = (): Promise<NodeLlamaCpp> => (libPromise ??= import('node-llama-cpp'))

interface Direct {
  lib: NodeLlamaCpp
  llama: Llama
  model: LlamaModel
  context: LlamaContext
  sequences: LlamaContextSequence[]
  wrapper: ChatWrapper
  loadMs: number
  dispose: () => Promise<void>
}

async function loadDirect(modelFile: string, parallel: number): Promise<Direct> {
  const lib = await loadLib()
  const t = performance.now()
  // As the server does (runtime.ts): no GPU, the prebuilt binary, one thread.
  const llama = await lib.getLlama({ gpu: false, build: 'never', maxThreads: 1, logLevel: lib.LlamaLogLevel.warn, progressLogs: false })
  const model = await llama.loadModel({ modelPath: modelFile, gpuLayers: 0 })
  const context = await model.createContext({ sequences: parallel, contextSize: CONTEXT_SIZE, threads: 1 })
  const sequences = Array.from({ length: parallel }, () => context.getSequence())
  const wrapper = lib.resolveChatWrapper(model)
  const direct: Direct = {
    lib,
    llama,
    model,
    context,
    sequences,
    wrapper,
    loadMs: performance.now() - t,
    dispose: async () => {
      await llama.dispose()
    },
  }
  ctx.direct = direct
  return direct
}

type DirectMode = 'chat' | 'loop'

const historyOf = (content: string): ChatHistoryItem[] => [
  { type: 'user', text: content },
  { type: 'model', response: [] },
]

/** One request on one sequence; returns its completion tokens (and text), checked. Clears the sequence after. */
async function directRequest(d: Direct, seq: LlamaContextSequence, mode: DirectMode, content: string, maxTokens: number): Promise<{ tokens: number; promptTokens: number; text: string }> {
  const history = historyOf(content)
  const state = d.wrapper.generateContextState({ chatHistory: history })
  const prompt = state.contextText.tokenize(d.model.tokenizer)
  let tokens: number
  let text: string
  if (mode === 'chat') {
    // Counted by the sequence's token meter (tokens sampled): LlamaChat's onToken can miss one it holds back.
    const before = seq.tokenMeter.usedOutputTokens
    const chat = new d.lib.LlamaChat({ contextSequence: seq, chatWrapper: d.wrapper, autoDisposeSequence: false })
    try {
      const r = await chat.generateResponse(history, { maxTokens, temperature: 0 })
      if (r.metadata.stopReason !== 'maxTokens') throw new Error(`LlamaChat stopped by ${r.metadata.stopReason}`)
      tokens = seq.tokenMeter.usedOutputTokens - before
      text = r.response
    } finally {
      chat.dispose({ disposeSequence: false })
    }
  } else {
    // What main/engine/llama-server/chat.ts hands the loop: the template's turn end as stop strings / tokens.
    const stop: string[] = []
    const stopTokens = new Set<Token>()
    for (const trigger of state.stopGenerationTriggers) {
      const values = trigger.values
      if (values.length > 0 && values.every((v): v is string => typeof v === 'string')) stop.push(values.join(''))
      else {
        const ids = d.lib.LlamaText(trigger).tokenize(d.model.tokenizer)
        if (ids.length === 1 && !d.model.isEogToken(ids[0])) stopTokens.add(ids[0])
      }
    }
    const r = await generate(d.lib, seq, { prompt, maxTokens, temperature: 0, stop, stopTokens, signal: new AbortController().signal })
    tokens = r.completionTokens
    text = r.text
  }
  if (tokens !== maxTokens) throw new Error(`direct ${mode}: ${tokens} completion tokens, not ${maxTokens}`)
  await seq.clearHistory()
  return { tokens, promptTokens: prompt.length, text }
}

interface DirectFigures {
  tokens: number
  promptTokens: number
  wallS: number
  tps: number
  cpu: Cpu
  texts: Map<string, string>
}

/** P workers over the prompts, one sequence each (or one worker on one sequence: sequential). */
async function runDirect(d: Direct, mode: DirectMode, prompts: readonly string[], maxTokens: number, workers: number): Promise<DirectFigures> {
  ctx.step = `direct ${mode}, ${workers} worker(s)`
  let next = 0
  let tokens = 0
  let promptTokens = 0
  const texts = new Map<string, string>()
  const cpu0 = cpuOf(process.pid)
  const t0 = performance.now()
  await Promise.all(
    d.sequences.slice(0, workers).map(async (seq) => {
      for (;;) {
        const i = next++
        if (i >= prompts.length) return
        const r = await directRequest(d, seq, mode, prompts[i], maxTokens)
        tokens += r.tokens
        promptTokens += r.promptTokens
        texts.set(`q-${i + 1}`, r.text)
      }
    }),
  )
  const wallS = (performance.now() - t0) / 1000
  return { tokens, promptTokens, wallS, tps: tokens / wallS, cpu: cpuDelta(cpu0, cpuOf(process.pid)), texts }
}

// ---------------------------------------------------------------------------------------------------
// Rounds
// ---------------------------------------------------------------------------------------------------

interface ServiceRound {
  loadMs: number | null
  /** The first batch after the load: a warm-up, outside the ratio (shown apart). */
  coldBatch: BatchFigures | null
  batch: BatchFigures | null
  whole: SingleFigures | null
  streamed: SingleFigures | null
  /** Diagnostics with the plain node:http client: straight to the child's port (2 × P in flight as the runner, and one at a time), and through the service. */
  childBatch: ChildFigures | null
  childSingle: ChildFigures | null
  plainWhole: ChildFigures | null
  rawStreamed: SingleFigures | null
  childStreamed: SingleFigures | null
}

interface DirectRound {
  loadMs: number
  /** The first pass of each way: a warm-up, outside the ratio (shown apart). */
  coldChat: DirectFigures | null
  coldLoop: DirectFigures | null
  chat: DirectFigures | null
  loop: DirectFigures | null
  singleChat: DirectFigures | null
  singleLoop: DirectFigures | null
}

/** The element whose tokens/s is the median of the repeats (the lower middle one for an even count). */
function medianOf<T extends { tps: number }>(xs: readonly T[]): T | null {
  if (xs.length === 0) return null
  return [...xs].sort((a, b) => a.tps - b.tps)[(xs.length - 1) >> 1]
}

async function serviceRound(modelFile: string, inputFile: string, prompts: readonly string[], singlePrompts: readonly string[], o: Options, round: number): Promise<ServiceRound> {
  ctx.step = 'starting the service'
  const service = await startService(modelFile, o)
  try {
    ctx.step = 'loading the model in the service'
    const { loadMs } = await loadEngine(service)
    ctx.step = 'warm-up requests through the service'
    // The same warm-up as the direct side's: P at once of 32 tokens, then one of 128 (the shapes measured).
    const openai = client(service)
    const warm = async (content: string, maxTokens: number): Promise<void> => {
      const r = await openai.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content }], temperature: 0, max_tokens: maxTokens })
      if (r.usage?.completion_tokens !== maxTokens) throw new Error(`warm-up: ${r.usage?.completion_tokens} completion tokens`)
    }
    await Promise.all(Array.from({ length: o.parallel }, (_, i) => warm(`hello ${i}`, BATCH_TOKENS)))
    await warm('hello there', SINGLE_TOKENS)
    const wantA = o.only.includes('a')
    const wantC = o.only.includes('c')
    if (wantC) {
      // Each path of (c) once (the first request down a path pays for its JIT): streamed with the SDK, and the
      // diagnostics' plain client, through the service and to the child.
      const s = await openai.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'hello' }], temperature: 0, max_tokens: SINGLE_TOKENS, stream: true, stream_options: { include_usage: true } })
      for await (const c of s) void c
      await runRawStreams(service, ['hello'], SINGLE_TOKENS, false)
      await runRawStreams(service, ['hello'], SINGLE_TOKENS, true)
      await runToChild(service, ['hello'], SINGLE_TOKENS, 1)
      await runToChild(service, ['hello'], SINGLE_TOKENS, 1, undefined, false, false)
    }
    await delay(300)
    // A first, unmeasured batch: the first one after a load runs markedly slower (JIT, first shapes) on
    // both sides, so each side does one pass of the same work before the measured ones.
    const coldBatch = wantA ? await runBatch(service, prompts, inputFile) : null
    const batches: BatchFigures[] = []
    const childBatches: ChildFigures[] = []
    const wholes: SingleFigures[] = []
    const streams: SingleFigures[] = []
    const childSingles: ChildFigures[] = []
    const plainWholes: ChildFigures[] = []
    const rawStreams: SingleFigures[] = []
    const childStreams: SingleFigures[] = []
    // --repeat K: each measurement K times, interleaved, so that neighbours in time are compared; the round
    // keeps the median of each. Which goes first alternates.
    for (let k = 0; k < o.repeat; k++) {
      const turn = (round + k) % 2 === 1
      if (wantA) {
        if (turn) batches.push(await runBatch(service, prompts, inputFile, k === 0))
        childBatches.push(await runToChild(service, prompts, BATCH_TOKENS, 2 * o.parallel, 10, k === 0))
        if (!turn) batches.push(await runBatch(service, prompts, inputFile, k === 0))
      }
    }
    for (let k = 0; k < o.repeat; k++) {
      const turn = (round + k) % 2 === 1
      if (wantC) {
        if (turn) wholes.push(await runSingleService(service, singlePrompts, false))
        streams.push(await runSingleService(service, singlePrompts, true, k === 0))
        if (!turn) wholes.push(await runSingleService(service, singlePrompts, false))
        plainWholes.push(await runToChild(service, singlePrompts, SINGLE_TOKENS, 1, undefined, false, false))
        childSingles.push(await runToChild(service, singlePrompts, SINGLE_TOKENS, 1))
        rawStreams.push(await runRawStreams(service, singlePrompts, SINGLE_TOKENS, false))
        childStreams.push(await runRawStreams(service, singlePrompts, SINGLE_TOKENS, true))
      }
    }
    return {
      loadMs,
      coldBatch,
      batch: medianOf(batches),
      whole: medianOf(wholes),
      streamed: medianOf(streams),
      childBatch: medianOf(childBatches),
      childSingle: medianOf(childSingles),
      plainWhole: medianOf(plainWholes),
      rawStreamed: medianOf(rawStreams),
      childStreamed: medianOf(childStreams),
    }
  } finally {
    ctx.step = 'stopping the service'
    await stopService(service)
  }
}

async function directRound(modelFile: string, prompts: readonly string[], singlePrompts: readonly string[], o: Options, round: number): Promise<DirectRound> {
  ctx.step = 'loading the model in this process'
  const d = await loadDirect(modelFile, o.parallel)
  try {
    // Warm-up, outside: P at once of 32 tokens (each way), then one of 128 (each way).
    ctx.step = 'warm-up in this process'
    for (const mode of ['chat', 'loop'] as const) await Promise.all(d.sequences.map((seq, i) => directRequest(d, seq, mode, `hello ${i}`, BATCH_TOKENS)))
    await directRequest(d, d.sequences[0], 'loop', 'hello there', SINGLE_TOKENS)
    await directRequest(d, d.sequences[0], 'chat', 'hello there', SINGLE_TOKENS)
    await delay(300)
    const wantB = o.only.includes('b')
    const wantC = o.only.includes('c')
    // As the service's side: one unmeasured pass of each way first; then K of each, the two ways taking turns.
    const coldChat = wantB ? await runDirect(d, 'chat', prompts, BATCH_TOKENS, o.parallel) : null
    const coldLoop = wantB ? await runDirect(d, 'loop', prompts, BATCH_TOKENS, o.parallel) : null
    const run = async (mode: DirectMode, ps: readonly string[], tokens: number, workers: number, k: number): Promise<DirectFigures> =>
      workers > 1 && k === 0 ? profileSelf(`direct-${mode}-round${round}`, o.cpuProfDir, () => runDirect(d, mode, ps, tokens, workers)) : runDirect(d, mode, ps, tokens, workers)
    const chats: DirectFigures[] = []
    const loops: DirectFigures[] = []
    const singleChats: DirectFigures[] = []
    const singleLoops: DirectFigures[] = []
    for (let k = 0; k < o.repeat; k++) {
      const chatFirst = (round + k) % 2 === 1
      if (wantB) {
        if (chatFirst) chats.push(await run('chat', prompts, BATCH_TOKENS, o.parallel, k))
        loops.push(await run('loop', prompts, BATCH_TOKENS, o.parallel, k))
        if (!chatFirst) chats.push(await run('chat', prompts, BATCH_TOKENS, o.parallel, k))
      }
    }
    for (let k = 0; k < o.repeat; k++) {
      const chatFirst = (round + k) % 2 === 1
      if (wantC) {
        if (chatFirst) singleChats.push(await run('chat', singlePrompts, SINGLE_TOKENS, 1, k))
        singleLoops.push(await run('loop', singlePrompts, SINGLE_TOKENS, 1, k))
        if (!chatFirst) singleChats.push(await run('chat', singlePrompts, SINGLE_TOKENS, 1, k))
      }
    }
    return { loadMs: d.loadMs, coldChat, coldLoop, chat: medianOf(chats), loop: medianOf(loops), singleChat: medianOf(singleChats), singleLoop: medianOf(singleLoops) }
  } finally {
    await d.dispose()
    ctx.direct = null
  }
}

// ---------------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------------

function report(o: Options, sr: ServiceRound[], dr: DirectRound[]): void {
  const col = <T>(xs: (T | null)[], g: (x: T) => number): number[] => xs.filter((x): x is T => x !== null).map(g)
  const batches = sr.map((r) => r.batch)
  const chats = dr.map((r) => r.chat)
  const loops = dr.map((r) => r.loop)
  const perRound = (g: (s: ServiceRound, d: DirectRound) => number | null): number[] =>
    sr.map((s, i) => g(s, dr[i])).filter((x): x is number => x !== null && Number.isFinite(x))

  if (o.only.includes('a') || o.only.includes('b')) {
    console.log('')
    console.log(`### (a) batch through the service vs (b) node-llama-cpp directly: ${BATCH_REQUESTS} requests × ${BATCH_TOKENS} tokens, P = ${o.parallel}`)
    console.log('')
    console.log('| | tokens/s, median (range) | time s | notes |')
    console.log('|---|--:|--:|---|')
    if (o.only.includes('a')) {
      console.log(
        `| (a) service batch: first request sent → last result committed | **${mr(col(batches, (b) => b.tps))}** | ${mr(col(batches, (b) => b.commitWindowS), 2)} | ` +
          `service's clock: min(results.started_at) in vbs.sqlite → first batch.progress with all committed (updatedAt) |`,
      )
      console.log(`| (a) service batch: first request sent → last answer received | ${mr(col(batches, (b) => b.engineTps))} | ${mr(col(batches, (b) => b.engineWindowS), 2)} | min(started_at) → max(finished_at) |`)
      console.log(
        `| (a) wall: batches.create → completed | ${mr(col(batches, (b) => b.completionTokens / b.wallS))} | ${mr(col(batches, (b) => b.wallS), 2)} | ` +
          `client clock, SSE batch.status; of which before the first send ${mr(col(batches, (b) => b.leadS), 2)} s, after the last commit ${mr(col(batches, (b) => b.tailS), 2)} s |`,
      )
    }
    if (o.only.includes('b')) {
      console.log(`| (b) direct, LlamaChat per request | **${mr(col(chats, (b) => b.tps))}** | ${mr(col(chats, (b) => b.wallS), 2)} | P workers, one sequence each |`)
      console.log(`| (b-loop) direct, the server's token loop (generate.ts) | **${mr(col(loops, (b) => b.tps))}** | ${mr(col(loops, (b) => b.wallS), 2)} | same prompt tokens as the service |`)
    }
    if (o.only.includes('a')) {
      const cold = sr.map((r) => r.coldBatch)
      console.log(`| not in the ratio: (a) the first batch after the load (warm-up) | ${mr(col(cold, (x) => x.tps))} | ${mr(col(cold, (x) => x.commitWindowS), 2)} | the same 64 lines, the same measure |`)
    }
    if (o.only.includes('b')) {
      console.log(
        `| not in the ratio: (b) / (b-loop) first pass (warm-up) | ${mr(col(dr.map((r) => r.coldChat), (x) => x.tps))} / ${mr(col(dr.map((r) => r.coldLoop), (x) => x.tps))} | | |`,
      )
    }
    if (o.only.includes('a')) {
      const cb = sr.map((r) => r.childBatch)
      console.log(
        `| diagnostic: the same requests POSTed straight to the engine child's port, ${2 * o.parallel} in flight | ${mr(col(cb, (x) => x.tps))} | ${mr(col(cb, (x) => x.wallS), 2)} | ` +
          `no service in between; client wall |`,
      )
    }
    console.log('')
  }
  if (o.only.includes('a') && o.only.includes('b')) {
    const rChat = perRound((s, d) => (s.batch && d.chat ? s.batch.tps / d.chat.tps : null))
    const rLoop = perRound((s, d) => (s.batch && d.loop ? s.batch.tps / d.loop.tps : null))
    const rBest = perRound((s, d) => (s.batch && d.chat && d.loop ? s.batch.tps / Math.max(d.chat.tps, d.loop.tps) : null))
    const rWall = perRound((s, d) => (s.batch && d.chat && d.loop ? s.batch.completionTokens / s.batch.wallS / Math.max(d.chat.tps, d.loop.tps) : null))
    console.log('| ratio (per round, then median) | median (range) |')
    console.log('|---|--:|')
    console.log(`| (a) / (b) LlamaChat | ${mr(rChat, 3)} |`)
    console.log(`| (a) / (b-loop) | ${mr(rLoop, 3)} |`)
    console.log(`| (a) / faster of (b), (b-loop) | **${mr(rBest, 3)}** |`)
    console.log(`| (a) wall / faster of (b), (b-loop) | ${mr(rWall, 3)} |`)
    console.log('')
    console.log(`target: (a) / (b) ≥ ${TARGET_RATIO} against the faster direct way: ${f(median(rBest), 3)} ${verdict(median(rBest) >= TARGET_RATIO)}`)
    const b0 = batches.find((b) => b !== null)
    const l0 = loops.find((l) => l !== null)
    if (b0 && l0) {
      let same = 0
      for (const [id, text] of b0.texts) if (l0.texts.get(id) === text) same += 1
      console.log(
        `check: every request generated exactly ${BATCH_TOKENS} tokens (usage, vbs.sqlite, direct counts); prompt tokens service ${b0.promptTokens}, direct ${l0.promptTokens} ` +
          `${b0.promptTokens === l0.promptTokens ? '(the same)' : '(DIFFERENT)'}; identical texts service vs direct loop (round 1): ${same}/${b0.texts.size}`,
      )
    }
  }
  if (o.only.includes('a')) {
    console.log('')
    console.log(
      '| (a) per round | first | tokens/s | cold batch | child port | (b) / (b-loop) | ratio | window s | wall s | in flight max / mean | mean send→answer ms | CPU s service | CPU s engine (main thread / other threads) |',
    )
    console.log('|--:|--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
    sr.forEach((s, i) => {
      const b = s.batch
      if (!b) return
      const d = dr[i]
      const other = b.engineCpu.total !== null && b.engineCpu.main !== null ? b.engineCpu.total - b.engineCpu.main : null
      const best = Math.max(d.chat?.tps ?? NaN, d.loop?.tps ?? NaN)
      console.log(
        `| ${i + 1} | ${i % 2 === 0 ? 'service' : 'direct'} | ${f(b.tps, 0)} | ${f(s.coldBatch?.tps, 0)} | ${f(s.childBatch?.tps, 0)} | ${f(d.chat?.tps, 0)} / ${f(d.loop?.tps, 0)} | ${f(b.tps / best, 3)} | ` +
          `${f(b.commitWindowS, 2)} | ${f(b.wallS, 2)} | ${b.maxInFlight} / ${f(b.meanInFlight, 2)} | ${f(b.meanLatencyMs, 0)} | ${f(b.serviceCpu.total, 2)} | ` +
          `${f(b.engineCpu.total, 2)} (${f(b.engineCpu.main, 2)} / ${f(other, 2)}) |`,
      )
    })
    console.log('')
    console.log(`CPU over the client's wall (batches.create → completed); the engine is our llama-server child (its main thread runs JS: HTTP, rendering, the token loop).`)
  }
  if (o.only.includes('b')) {
    console.log('')
    console.log('| (b) per round | LlamaChat tokens/s | loop tokens/s | CPU s this process, LlamaChat (main / other threads) | CPU s, loop (main / other) |')
    console.log('|--:|--:|--:|--:|--:|')
    dr.forEach((d, i) => {
      const c = (x: DirectFigures | null): string => (x ? `${f(x.cpu.total, 2)} (${f(x.cpu.main, 2)} / ${f((x.cpu.total ?? NaN) - (x.cpu.main ?? NaN), 2)})` : 'n/a')
      console.log(`| ${i + 1} | ${f(d.chat?.tps, 0)} | ${f(d.loop?.tps, 0)} | ${c(d.chat)} | ${c(d.loop)} |`)
    })
  }

  if (o.only.includes('c')) {
    const whole = sr.map((r) => r.whole)
    const streamed = sr.map((r) => r.streamed)
    const sChat = dr.map((r) => r.singleChat)
    const sLoop = dr.map((r) => r.singleLoop)
    console.log('')
    console.log(`### (c) single stream: ${SINGLE_REQUESTS} requests × ${SINGLE_TOKENS} tokens, one at a time`)
    console.log('')
    console.log('| | tokens/s, median (range) | time s | ratio to the faster direct (per round, median) | notes |')
    console.log('|---|--:|--:|--:|---|')
    const best = (i: number): number => Math.max(sChat[i]?.tps ?? NaN, sLoop[i]?.tps ?? NaN)
    const ratio = (xs: ({ tps: number } | null)[]): string => mr(xs.map((x, i) => (x ? x.tps / best(i) : NaN)), 3)
    console.log(`| service /v1/chat/completions, whole | **${mr(col(whole, (x) => x.tps))}** | ${mr(col(whole, (x) => x.wallS), 2)} | ${ratio(whole)} | client wall over the ${SINGLE_REQUESTS} requests |`)
    console.log(
      `| service /v1/chat/completions, streamed | **${mr(col(streamed, (x) => x.tps))}** | ${mr(col(streamed, (x) => x.wallS), 2)} | ${ratio(streamed)} | time to first chunk ${mr(col(streamed, (x) => x.ttftMs ?? NaN), 1)} ms |`,
    )
    console.log(`| direct LlamaChat, one sequence | **${mr(col(sChat, (x) => x.tps))}** | ${mr(col(sChat, (x) => x.wallS), 2)} | | of the same ${o.parallel}-sequence context |`)
    console.log(`| direct server loop, one sequence | **${mr(col(sLoop, (x) => x.tps))}** | ${mr(col(sLoop, (x) => x.wallS), 2)} | | |`)
    const cs = sr.map((r) => r.childSingle)
    console.log(`| diagnostic: straight to the engine child's port, whole | ${mr(col(cs, (x) => x.tps))} | ${mr(col(cs, (x) => x.wallS), 2)} | ${ratio(cs)} | no service in between |`)
    const pw = sr.map((r) => r.plainWhole)
    console.log(`| diagnostic: whole through the service, plain node:http client | ${mr(col(pw, (x) => x.tps))} | ${mr(col(pw, (x) => x.wallS), 2)} | ${ratio(pw)} | no SDK |`)
    const rs = sr.map((r) => r.rawStreamed)
    const chs = sr.map((r) => r.childStreamed)
    console.log(
      `| diagnostic: streamed through the service, plain node:http client | ${mr(col(rs, (x) => x.tps))} | ${mr(col(rs, (x) => x.wallS), 2)} | ${ratio(rs)} | chunks counted, not parsed: no SDK cost; service CPU ${mr(col(rs, (x) => x.serviceCpu.total ?? NaN), 2)} s |`,
    )
    console.log(`| diagnostic: streamed straight to the engine child's port, plain client | ${mr(col(chs, (x) => x.tps))} | ${mr(col(chs, (x) => x.wallS), 2)} | ${ratio(chs)} | no service, no SDK |`)
    console.log('')
    console.log('| (c) per round | whole tokens/s | streamed | child port | direct LlamaChat | direct loop | CPU s service whole / streamed | CPU s engine whole / streamed / child port | CPU s direct LlamaChat / loop |')
    console.log('|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
    sr.forEach((s, i) => {
      console.log(
        `| ${i + 1} | ${f(s.whole?.tps, 0)} | ${f(s.streamed?.tps, 0)} | ${f(s.childSingle?.tps, 0)} | ${f(dr[i].singleChat?.tps, 0)} | ${f(dr[i].singleLoop?.tps, 0)} | ` +
          `${f(s.whole?.serviceCpu.total, 2)} / ${f(s.streamed?.serviceCpu.total, 2)} | ${f(s.whole?.engineCpu.total, 2)} / ${f(s.streamed?.engineCpu.total, 2)} / ${f(s.childSingle?.engineCpu.total, 2)} | ` +
          `${f(dr[i].singleChat?.cpu.total, 2)} / ${f(dr[i].singleLoop?.cpu.total, 2)} |`,
      )
    })
  }
  console.log('')
  console.log(
    `loads (outside every figure): service engine ${mr(sr.map((r) => r.loadMs ?? NaN), 0)} ms (startedAt → readyAt), direct ${mr(dr.map((r) => r.loadMs), 0)} ms (getLlama + loadModel + createContext)`,
  )
}

// ---------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2))
  cleanUpOnSignals(cleanup)
  if (o.cpuProfDir) fs.mkdirSync(o.cpuProfDir, { recursive: true })
  profiling = o.cpuProfDir !== null

  const work = tempDir('vbs-bench-llama-')
  const modelFile = path.join(work, 'bench.gguf')
  const info = writeTinyGguf(modelFile, { seed: 1, name: 'bench-llama', ...o.model })
  const prompts = makePrompts(BATCH_REQUESTS)
  const singlePrompts = prompts.slice(0, SINGLE_REQUESTS)
  const inputFile = path.join(work, 'batch.jsonl')
  fs.writeFileSync(inputFile, batchInput(prompts))

  // tiny-gguf.ts's defaults where the preset says nothing.
  const m = { E: o.model.embeddingLength ?? 64, L: o.model.blockCount ?? 2, H: o.model.headCount ?? 4, KV: o.model.headCountKv ?? 2, F: o.model.feedForwardLength ?? 128 }
  const cpus = os.cpus()
  console.log('## llama.cpp throughput: the service against node-llama-cpp directly')
  console.log('')
  console.log(
    `nproc ${os.availableParallelism()} (${cpus[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, node-llama-cpp ${(JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'node-llama-cpp', 'package.json'), 'utf8')) as { version: string }).version}; ` +
      `model '${o.modelName}': E ${m.E}, ${m.L} blocks, ${m.H} heads (${m.KV} KV), F ${m.F}, vocabulary ${info.vocabSize}, F32, ${(info.size / 1e6).toFixed(1)} MB; ` +
      `P = ${o.parallel} sequences, context ${CONTEXT_SIZE} per sequence, 1 thread, 0 GPU layers; ${o.rounds} round(s) × ${o.repeat} repeat(s), parts ${o.only.join(', ')}` +
      `${Object.keys(o.env).length > 0 ? `; service env ${JSON.stringify(o.env)}` : ''}`,
  )
  console.log(`service: node ${serveArgs().map((a) => path.relative(ROOT, a) || a).join(' ')} (engine: its llama.cpp child, batch concurrency ${o.env.VBS_BATCH_CONCURRENCY ?? `2 × P = ${2 * o.parallel}`})`)
  const load = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' / ')
  console.log(`load average at the start: ${load()}`)

  const sr: ServiceRound[] = []
  const dr: DirectRound[] = []
  try {
    for (let r = 1; r <= o.rounds; r++) {
      const serviceFirst = r % 2 === 1
      let s: ServiceRound | null = null
      let d: DirectRound | null = null
      const needService = o.only.includes('a') || o.only.includes('c')
      const needDirect = o.only.includes('b') || o.only.includes('c')
      const doService = async (): Promise<void> => {
        s = needService ? await serviceRound(modelFile, inputFile, prompts, singlePrompts, o, r) : { loadMs: null, coldBatch: null, batch: null, whole: null, streamed: null, childBatch: null, childSingle: null, plainWhole: null, rawStreamed: null, childStreamed: null }
      }
      const doDirect = async (): Promise<void> => {
        d = needDirect ? await directRound(modelFile, prompts, singlePrompts, o, r) : { loadMs: NaN, coldChat: null, coldLoop: null, chat: null, loop: null, singleChat: null, singleLoop: null }
      }
      if (serviceFirst) {
        await doService()
        await doDirect()
      } else {
        await doDirect()
        await doService()
      }
      const sv = s as unknown as ServiceRound
      const dv = d as unknown as DirectRound
      sr.push(sv)
      dr.push(dv)
      console.error(
        `round ${r} (${serviceFirst ? 'service first' : 'direct first'}): (a) ${f(sv.batch?.tps, 0)} tok/s, (b) ${f(dv.chat?.tps, 0)} / loop ${f(dv.loop?.tps, 0)} tok/s; ` +
          `(c) service ${f(sv.whole?.tps, 0)} / streamed ${f(sv.streamed?.tps, 0)}, direct ${f(dv.singleChat?.tps, 0)} / loop ${f(dv.singleLoop?.tps, 0)} tok/s`,
      )
    }
  } catch (err) {
    const service = ctx.services[ctx.services.length - 1]
    throw new Error(`while ${ctx.step}: ${describeError(err)}${service ? `\nthe service's last output:\n${service.output().slice(-8192) || '(none)'}` : ''}`, { cause: err })
  } finally {
    await cleanup()
  }
  report(o, sr, dr)
  console.log(`load average at the end: ${load()}`)
  if (o.cpuProfDir) summarizeProfiles(o.cpuProfDir)
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`llama-throughput benchmark failed: ${err instanceof Error ? err.message : String(err)}`)
    void cleanup().finally(() => process.exit(1))
  },
)
