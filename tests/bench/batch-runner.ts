/**
 * Benchmark: the batch runner (main/batch/runner.ts + scheduler.ts) against the fake vLLM.
 *
 *   npx tsx tests/bench/batch-runner.ts [--only a|b|c] [--lines N] [--cpu-prof DIR]
 *
 * (a) Orchestration ceiling: jobs of 10,000 and N (default 200,000) requests, a ~0 ms engine, W = 64. The
 *     rate is taken from the service's own progress snapshots (GET /api/batches/{id}, polled every
 *     POLL_MS): each snapshot holds `completed` and `updatedAt` (the service's clock when it was made, right
 *     after a commit), so rate = (completed_last - completed_first) / (updatedAt_last - updatedAt_first),
 *     from the first snapshot with completed > 0 to the last one seen (normally the final one, completed =
 *     total). Engine loading, validation and the output file are outside it (reported apart). Peak RSS is
 *     the service process's VmHWM: once over its whole life (upload, validation, run, output file) and
 *     once for the run + output file alone (VmHWM reset when the batch is in_progress); sampled VmRSS as a
 *     check. The fake engine's API server and EngineCore are reported for information.
 * (b) Efficiency: W = 32 against a 100 ms engine (max-num-seqs 256 > W), 3,000 requests: the same rate
 *     against the ideal W / L = 320/s.
 * (c) Resume: an N-request job, SIGKILL of the service once half is committed (its engine, in its own
 *     process group, keeps running), restart on the same data dir: times from the restart's spawn to
 *     "listening", to the engine's launch and readiness (GET /api/engine startedAt/readyAt, the service's
 *     clock), and to the first request the NEW engine answers (the first line of a request log the new
 *     engine alone writes: FAKE_VLLM_REQUEST_LOG points at a fresh file for the second service). Then the
 *     job must complete with exactly N unique, correct results (the output file is streamed, not held).
 *
 * `--lines N` sets the large job of (a) and (c) (default 200,000); (b) uses min(N, 3,000). `--cpu-prof DIR`
 * runs the services under `node --cpu-prof` and prints each profile's self time by function (a service ends
 * with SIGTERM, so it writes its profile; the one killed in (c) does not). `--node-arg FLAG` (repeatable)
 * adds a node flag to the services (e.g. --trace-gc); `--service-output DIR` keeps each service's output;
 * `--env NAME=VALUE` (repeatable) sets a variable for the services, last (e.g. VBS_CHUNK_SIZE=1000): for
 * experiments, as it can change what the targets are measured under.
 * The service runs as `npm run serve` does (its command read from package.json), a child process. It is a
 * benchmark, not a test: a missed target prints MISS; the exit status is non-zero only when something broke.
 * Every child process (the services and, through the fake's launch log, the engines' process groups) and
 * every temp dir is removed at the end, also on an error or Ctrl-C.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import OpenAI from 'openai'
import { commandLine, findListeningProcess, processTree, readStatusKb, resetPeakRss, RssSampler } from './proc-memory'
import { serveArgs } from '../helpers/serve-command'
import { cleanUpOnSignals, delay, describeError, Tail, within } from './bench-util'
import { summarizeProfiles } from './cpu-profiles'
import type { BatchProgress } from '../../main/batch/progress'

const ROOT = path.resolve(__dirname, '..', '..')
const FAKE_VLLM = path.join(ROOT, 'tests', 'fixtures', 'fake-vllm')
const FAKE_BIN = path.join(ROOT, 'tests', 'fixtures', 'bin')
const MODEL = 'bench-a'
const ENDPOINT = '/v1/chat/completions'
const MB = 1_000_000

const SMALL_JOB = 10_000
const DEFAULT_LINES = 200_000
const CEILING_W = 64
const EFFICIENCY_W = 32
const EFFICIENCY_LATENCY_MS = 100
const EFFICIENCY_LINES = 3_000
/** The fake engine's default --max-num-seqs (the service passes none: models.yaml here sets no max_num_seqs). */
const FAKE_MAX_NUM_SEQS = 256
const RESUME_W = 64
const RESUME_COMMIT_ROWS = 200 // the service's default VBS_COMMIT_ROWS
const RESUME_LOAD_MS = 100
const DEFAULT_LOAD_MS = 300

const TARGET_RPS = 2_000
const TARGET_RSS_MB = 300
/** "Flat": the large job's peak within this many MB of the 10,000-request job's peak. */
const TARGET_FLAT_MB = 30
const TARGET_EFFICIENCY = 0.95
const TARGET_RESUME_MS = 3_000

const POLL_MS = 100
const RSS_SAMPLE_MS = 100
const LISTEN_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 30_000
const KILL_WAIT_MS = 5_000

const MODELS_YAML = `default: ${MODEL}
models:
  - id: ${MODEL}
    model: bench-org/${MODEL}
    vram_gb: 4
`

// ---------------------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------------------

type Part = 'a' | 'b' | 'c'

interface Options {
  only: Part[]
  lines: number
  cpuProfDir: string | null
  /** Extra node flags for the service (e.g. --trace-gc), and a dir that keeps each service's whole output. */
  nodeArgs: string[]
  outputDir: string | null
  /** Extra environment of the services (and so of their engines), applied last: for experiments. */
  env: Record<string, string>
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { only: ['a', 'b', 'c'], lines: DEFAULT_LINES, cpuProfDir: null, nodeArgs: [], outputDir: null, env: {} }
  const usage = 'usage: npx tsx tests/bench/batch-runner.ts [--only a|b|c] [--lines N] [--cpu-prof DIR] [--node-arg FLAG]... [--service-output DIR] [--env NAME=VALUE]...'
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const eq = arg.indexOf('=')
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg
    const value = (): string => {
      const v = eq > 0 && arg.startsWith('--') ? arg.slice(eq + 1) : argv[++i]
      if (v === undefined) throw new Error(`${name} needs a value (${usage})`)
      return v
    }
    if (name === '--only') {
      const parts = value().split(',').map((p) => p.trim())
      for (const p of parts) if (p !== 'a' && p !== 'b' && p !== 'c') throw new Error(`--only takes a, b or c, got ${JSON.stringify(p)}`)
      options.only = parts as Part[]
    } else if (name === '--lines') {
      const v = value()
      const n = Number(v)
      if (!Number.isSafeInteger(n) || n < 100) throw new Error(`--lines needs an integer >= 100, got ${JSON.stringify(v)}`)
      options.lines = n
    } else if (name === '--cpu-prof') {
      options.cpuProfDir = path.resolve(value())
    } else if (name === '--node-arg') {
      options.nodeArgs.push(value())
    } else if (name === '--env') {
      const v = value()
      const at = v.indexOf('=')
      if (at <= 0) throw new Error(`--env needs NAME=VALUE, got ${JSON.stringify(v)}`)
      options.env[v.slice(0, at)] = v.slice(at + 1)
    } else if (name === '--service-output') {
      options.outputDir = path.resolve(value())
    } else if (name === '--help' || name === '-h') {
      console.log(usage)
      process.exit(0)
    } else throw new Error(`unknown argument ${JSON.stringify(arg)} (${usage})`)
  }
  return options
}

// ---------------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------------




type MemPhase = 'upload' | 'validate' | 'run' | 'output'
const MEM_PHASES: readonly MemPhase[] = ['upload', 'validate', 'run', 'output']


const mbOfKb = (kb: number | null): number | null => (kb === null ? null : (kb * 1024) / MB)
const f = (n: number | null, digits = 1): string => (n === null || !Number.isFinite(n) ? 'n/a' : n.toFixed(digits))
const int = (n: number): string => n.toLocaleString('en-US')
const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS')


// ---------------------------------------------------------------------------------------------------
// Clean-up: everything started is registered at once, and ended whatever happens
// ---------------------------------------------------------------------------------------------------

interface Context {
  temps: string[]
  services: Service[]
  /** Launch logs of fake engines: each line names an API server (its group leader) and its EngineCore. */
  launchLogs: string[]
  samplers: RssSampler<MemPhase>[]
  step: string
}

const ctx: Context = { temps: [], services: [], launchLogs: [], samplers: [], step: 'starting' }

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  ctx.temps.push(dir)
  return dir
}

interface Launch {
  pid: number
  pgid: number | null
  engine_pid: number
  argv: string[]
  at: string
}

function readLaunches(file: string): Launch[] {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return []
  }
  const out: Launch[] = []
  for (const row of text.split('\n')) {
    if (!row.trim()) continue
    try {
      out.push(JSON.parse(row) as Launch)
    } catch {
      // a line being written
    }
  }
  return out
}

/**
 * True when pid is alive and runs the fake engine (so a reused pid is never signalled). The EngineCore sets
 * process.title, which rewrites its command line to `VLLM::EngineCore`.
 */
function isFake(pid: number): boolean {
  const cmd = commandLine(pid)
  return cmd.includes('fake-vllm') || cmd.startsWith('VLLM::EngineCore')
}

/** SIGKILL to the process group of every fake engine a launch log names, and to its EngineCore. */
function killFakeEngines(launchLog: string): number {
  let killed = 0
  for (const l of readLaunches(launchLog)) {
    const leaderAlive = isFake(l.pid)
    const pgid = l.pgid ?? l.pid
    if (leaderAlive || isFake(l.engine_pid)) {
      try {
        process.kill(-pgid, 'SIGKILL')
        killed += 1
      } catch {
        // the group is gone
      }
    }
    if (isFake(l.engine_pid)) {
      try {
        process.kill(l.engine_pid, 'SIGKILL')
      } catch {
        // gone
      }
    }
  }
  return killed
}

let cleaning: Promise<void> | null = null
function cleanup(): Promise<void> {
  return (cleaning ??= (async () => {
    for (const s of ctx.samplers.splice(0)) s.stop()
    for (const service of ctx.services.splice(0)) await stopService(service)
    for (const log of ctx.launchLogs.splice(0)) {
      const n = killFakeEngines(log)
      if (n > 0) console.error(`clean-up: SIGKILL to ${n} fake engine group(s) left running (${log})`)
    }
    for (const dir of ctx.temps.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
  })())
}

// ---------------------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------------------

/** Writes `lines` request lines of ~140-150 bytes, streamed. Returns the file's size. */
async function writeInput(file: string, lines: number): Promise<number> {
  const out = fs.createWriteStream(file)
  const failed = new Promise<never>((_, reject) => out.once('error', reject))
  failed.catch(() => undefined)
  let bytes = 0
  let buffer = ''
  for (let i = 1; i <= lines; i++) {
    buffer += `{"custom_id":"r-${i}","method":"POST","url":"${ENDPOINT}","body":{"model":"${MODEL}","messages":[{"role":"user","content":"hi ${i}"}]}}\n`
    if (buffer.length >= 1 << 20 || i === lines) {
      bytes += Buffer.byteLength(buffer)
      if (!out.write(buffer)) await Promise.race([once(out, 'drain'), failed])
      buffer = ''
    }
  }
  out.end()
  await Promise.race([once(out, 'finish'), failed])
  return bytes
}

const inputs = new Map<number, { path: string; bytes: number }>()
let inputDir: string | null = null

async function inputFile(lines: number): Promise<{ path: string; bytes: number }> {
  const known = inputs.get(lines)
  if (known) return known
  inputDir ??= tempDir('vbs-bench-runner-input-')
  const file = path.join(inputDir, `input-${lines}.jsonl`)
  const t = performance.now()
  const bytes = await writeInput(file, lines)
  console.error(`generated ${int(lines)} lines, ${f(bytes / MB)} MB (${f(bytes / lines, 0)} bytes a line) in ${f((performance.now() - t) / 1000, 2)} s`)
  const entry = { path: file, bytes }
  inputs.set(lines, entry)
  return entry
}

// ---------------------------------------------------------------------------------------------------
// The service under test
// ---------------------------------------------------------------------------------------------------

interface Service {
  child: ChildProcess
  exited: Promise<void>
  output: Tail
  spawnedAt: number
  /** Date.now() when the "listening on" line arrived. */
  listeningAt: number | null
  /** The process that listens (the spawned node itself, found through /proc to be sure). */
  pid: number | null
  url: string | null
  key: string
  dataDir: string
  launchLog: string
}

interface ServiceSetup {
  dataDir: string
  gpuDir: string
  launchLog: string
  key: string
  env: NodeJS.ProcessEnv
}

/** A data dir, a fake GPU, a launch log and the environment of a service run (settings + fake engine knobs). */
function serviceSetup(vbs: Record<string, string>, fake: Record<string, string>): ServiceSetup {
  const dataDir = tempDir('vbs-bench-runner-data-')
  const gpuDir = tempDir('vbs-bench-runner-gpu-')
  const launchLog = path.join(gpuDir, 'launches.jsonl')
  ctx.launchLogs.push(launchLog)
  const modelsPath = path.join(dataDir, 'bench-models.yaml')
  fs.writeFileSync(modelsPath, MODELS_YAML)
  const key = `bench-${Math.random().toString(36).slice(2)}`
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('VBS_') && !k.startsWith('FAKE_') && !k.startsWith('VLLM_')) env[k] = v
  Object.assign(env, {
    PATH: `${FAKE_BIN}:${process.env.PATH ?? ''}`,
    VBS_DATA_DIR: dataDir,
    VBS_HOST: '127.0.0.1',
    VBS_PORT: '0',
    VBS_API_KEY: key,
    VBS_MODELS: modelsPath,
    VBS_VLLM_BIN: FAKE_VLLM,
    VBS_LOG_LEVEL: 'warn',
    FAKE_GPU_STATE_DIR: gpuDir,
    FAKE_VLLM_LAUNCH_LOG: launchLog,
    FAKE_VLLM_GPU_MIB: '4000',
    ...vbs,
    ...fake,
  })
  return { dataDir, gpuDir, launchLog, key, env }
}

let serviceCount = 0

function launchService(setup: ServiceSetup, o: Options, extraEnv: Record<string, string> = {}): Service {
  const nodeArgs = [...(o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : []), ...o.nodeArgs]
  const spawnedAt = Date.now()
  const child = spawn(process.execPath, [...nodeArgs, ...serveArgs()], {
    cwd: ROOT,
    env: { ...setup.env, ...extraEnv, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const output = new Tail()
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', () => resolve())
  })
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk))
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk))
  serviceCount += 1
  if (o.outputDir) {
    fs.mkdirSync(o.outputDir, { recursive: true })
    const keep = fs.createWriteStream(path.join(o.outputDir, `service-${serviceCount}.log`))
    child.stdout?.pipe(keep)
    child.stderr?.pipe(keep)
  }
  const service: Service = {
    child,
    exited,
    output,
    spawnedAt,
    listeningAt: null,
    pid: null,
    url: null,
    key: setup.key,
    dataDir: setup.dataDir,
    launchLog: setup.launchLog,
  }
  ctx.services.push(service)
  return service
}

async function waitUntilListening(service: Service): Promise<void> {
  const { child, output } = service
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = ''
    const finish = (err: Error | null, value = ''): void => {
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      child.off('exit', onExit)
      if (err) reject(err)
      else resolve(value)
    }
    const onData = (chunk: Buffer): void => {
      stdout += chunk.toString()
      const match = /listening on http:\/\/\S+ \(this machine: (http:\/\/[^)]+)\)/.exec(stdout)
      if (match) {
        service.listeningAt = Date.now()
        finish(null, match[1])
      }
    }
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      finish(new Error(`the service exited before listening (code ${code}, signal ${signal}); output:\n${output}`))
    const timer = setTimeout(() => finish(new Error(`the service did not listen within ${LISTEN_TIMEOUT_MS / 1000} s; output:\n${output}`)), LISTEN_TIMEOUT_MS)
    child.stdout?.on('data', onData)
    child.once('exit', onExit)
  })
  if (child.pid === undefined) throw new Error('the service has no pid')
  const pid = findListeningProcess(child.pid, Number(new URL(url).port))
  if (pid === null) throw new Error(`no process under pid ${child.pid} listens on ${url}`)
  service.url = url
  service.pid = pid
}

/** SIGTERM (the service stops its engine), a bounded wait, then SIGKILL to whatever is left of its tree. */
async function stopService(service: Service, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const { child } = service
  const root = child.pid
  if (root === undefined) return
  const started = processTree(root).map((pid) => ({ pid, cmd: commandLine(pid) }))
  const stillRunning = (): number[] => started.filter((p) => p.cmd !== '' && commandLine(p.pid) === p.cmd).map((p) => p.pid)
  if (child.exitCode === null && child.signalCode === null) child.kill(signal)
  const stopped = await within(service.exited, STOP_TIMEOUT_MS)
  if (!stopped) console.error(`the service did not stop within ${STOP_TIMEOUT_MS / 1000} s of ${signal}; SIGKILL`)
  if (stopped) for (let waited = 0; stillRunning().length > 0 && waited < KILL_WAIT_MS; waited += 100) await delay(100)
  for (const pid of stillRunning()) {
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

// ---------------------------------------------------------------------------------------------------
// The API
// ---------------------------------------------------------------------------------------------------

type ProgressView = Pick<BatchProgress, 'chunk' | 'chunks' | 'completed' | 'failed' | 'total' | 'requestsPerSecond' | 'waiting' | 'updatedAt'>

interface JobView {
  id: string
  status: string
  request_counts?: { total: number; completed: number; failed: number }
  output_file_id: string | null
  error_file_id: string | null
  progress: ProgressView | null
  status_detail: string | null
}

interface EngineView {
  state: string
  model: string | null
  pid: number | null
  startedAt: number | null
  readyAt: number | null
  lastError: string | null
}

async function getJson<T>(service: Service, pathname: string, timeoutMs = 10_000): Promise<T> {
  const res = await fetch(`${service.url}${pathname}`, { headers: { authorization: `Bearer ${service.key}` }, signal: AbortSignal.timeout(timeoutMs) })
  if (!res.ok) throw new Error(`GET ${pathname}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

function client(service: Service): OpenAI {
  return new OpenAI({ apiKey: service.key, baseURL: `${service.url}/v1`, maxRetries: 0, timeout: 10 * 60_000 })
}

// ---------------------------------------------------------------------------------------------------
// Watching a job
// ---------------------------------------------------------------------------------------------------

interface Snapshot {
  completed: number
  updatedAt: number
}

interface Watch {
  /** Client-side Date.now() of the first poll that showed in_progress. */
  inProgressAt: number | null
  /** The first progress snapshot with completed > 0, and the last (largest completed) seen. */
  first: Snapshot | null
  last: Snapshot | null
  /** Client-side: first poll with every request done (finalizing or completed), and the one showing completed. */
  doneAt: number | null
  completedAt: number | null
  final: JobView | null
  maxRpsField: number
}

function newWatch(): Watch {
  return { inProgressAt: null, first: null, last: null, doneAt: null, completedAt: null, final: null, maxRpsField: 0 }
}

/** Feeds one poll's answer into the watch. */
function observe(w: Watch, job: JobView, now: number): void {
  if (job.status !== 'validating' && w.inProgressAt === null) w.inProgressAt = now
  const p = job.progress
  if (p && p.completed + p.failed > 0) {
    const s = { completed: p.completed + p.failed, updatedAt: p.updatedAt }
    if (w.first === null) w.first = s
    if (w.last === null || s.completed > w.last.completed || (s.completed === w.last.completed && s.updatedAt < w.last.updatedAt)) w.last = s
    if (p.total > 0 && p.completed + p.failed >= p.total && w.doneAt === null) w.doneAt = now
    if (p.requestsPerSecond > w.maxRpsField) w.maxRpsField = p.requestsPerSecond
  }
  if ((job.status === 'finalizing' || job.status === 'completed') && w.doneAt === null) w.doneAt = now
  if (job.status === 'completed' && w.completedAt === null) w.completedAt = now
}

/** Requests per second between the first and the last snapshot, on the service's clock. */
function rateOf(w: Watch): { rps: number | null; requests: number; seconds: number } {
  if (!w.first || !w.last || w.last.updatedAt <= w.first.updatedAt) return { rps: null, requests: 0, seconds: 0 }
  const requests = w.last.completed - w.first.completed
  const seconds = (w.last.updatedAt - w.first.updatedAt) / 1000
  return { rps: requests / seconds, requests, seconds }
}

/**
 * Polls /api/batches/{id} every POLL_MS until `until` says stop (or the batch fails/ends otherwise), bounded.
 */
async function pollJob(
  service: Service,
  batchId: string,
  w: Watch,
  timeoutMs: number,
  until: (job: JobView) => boolean,
  onJob: (job: JobView) => void = () => undefined,
): Promise<JobView> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const job = await getJson<JobView>(service, `/api/batches/${batchId}`)
    observe(w, job, Date.now())
    onJob(job)
    if (until(job)) return job
    if (['failed', 'expired', 'cancelled', 'cancelling'].includes(job.status)) {
      throw new Error(`batch ${batchId} went to ${job.status}: ${job.status_detail ?? ''}`)
    }
    if (job.status === 'completed') return job
    if (Date.now() > deadline) {
      const p = job.progress
      throw new Error(`batch ${batchId} not done within ${Math.round(timeoutMs / 1000)} s (status ${job.status}, ${p ? `${p.completed}/${p.total}` : 'no progress'}, ${job.status_detail ?? ''})`)
    }
    await delay(POLL_MS)
  }
}

/** A bound for a job's run: generous, so only a hang trips it (a 200,000-request job at 100/s still fits). */
const jobTimeoutMs = (n: number): number => 120_000 + n * 10

// ---------------------------------------------------------------------------------------------------
// Memory of the service and of the engine
// ---------------------------------------------------------------------------------------------------

interface EngineMemory {
  apiServerHwmKb: number | null
  engineCoreHwmKb: number | null
  apiServerPid: number | null
}

/** VmHWM of the newest fake engine (its API server and EngineCore) while they still run. */
function engineMemory(launchLog: string): EngineMemory {
  const launches = readLaunches(launchLog)
  const l = launches[launches.length - 1]
  if (!l) return { apiServerHwmKb: null, engineCoreHwmKb: null, apiServerPid: null }
  return {
    apiServerHwmKb: isFake(l.pid) ? readStatusKb(l.pid, 'VmHWM') : null,
    engineCoreHwmKb: isFake(l.engine_pid) ? readStatusKb(l.engine_pid, 'VmHWM') : null,
    apiServerPid: l.pid,
  }
}

/** Clock ticks per second of /proc/<pid>/stat's times. */
const CLK_TCK = ((): number => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    return Number.isFinite(n) && n > 0 ? n : 100
  } catch {
    return 100
  }
})()

/** CPU seconds (user + system) a process has used so far, or null when it is gone. */
function cpuSeconds(pid: number | null): number | null {
  if (pid === null) return null
  let stat: string
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK // utime, stime (fields 14 and 15)
}

// ---------------------------------------------------------------------------------------------------
// One job from upload to completion, with its figures
// ---------------------------------------------------------------------------------------------------

interface JobResult {
  lines: number
  fileBytes: number
  uploadS: number
  validateS: number
  rps: number | null
  rateRequests: number
  rateSeconds: number
  /** Client side: from in_progress to every request done (includes the engine's load). */
  runWallS: number | null
  /** Client side: every request done to `completed` (the output file). */
  finalizeS: number | null
  baselineKb: number | null
  /** VmHWM up to in_progress (start, upload, validation). */
  preRunHwmKb: number | null
  /** VmHWM of the run and the output file alone (reset at in_progress), or null if it could not be reset. */
  runHwmKb: number | null
  lifeHwmKb: number | null
  sampledPeakKb: number
  phasePeakKb: Record<MemPhase, number>
  /** VmRSS when 25, 50, 75 and 100 % of the requests were committed. */
  runRssKb: (number | null)[]
  endRssKb: number | null
  engine: EngineMemory
  /** CPU seconds from in_progress to every request done: the service; the engine's two processes over their life. */
  serviceCpuS: number | null
  engineCpuS: number | null
  engineArgv: string[]
  final: JobView
  maxRpsField: number
  pid: number
  command: string
}

async function runJob(service: Service, lines: number): Promise<JobResult> {
  const pid = service.pid as number
  const input = await inputFile(lines)
  const openai = client(service)
  await delay(500) // start-up work settles
  const baselineKb = readStatusKb(pid, 'VmRSS')
  const sampler = new RssSampler<MemPhase>(pid, RSS_SAMPLE_MS, MEM_PHASES)
  ctx.samplers.push(sampler)
  sampler.start()
  sampler.setPhase('upload')

  ctx.step = `uploading ${int(lines)} lines`
  let t = performance.now()
  const file = await openai.files.create({ file: fs.createReadStream(input.path), purpose: 'batch' })
  const uploadS = (performance.now() - t) / 1000
  if (file.bytes !== input.bytes) throw new Error(`the server stored ${file.bytes} of ${input.bytes} bytes`)

  ctx.step = 'creating the batch and waiting for in_progress'
  sampler.setPhase('validate')
  t = performance.now()
  const batch = await openai.batches.create({ input_file_id: file.id, endpoint: ENDPOINT, completion_window: '24h' })
  const w = newWatch()
  await pollJob(service, batch.id, w, 120_000 + lines, (job) => job.status !== 'validating')
  const validateS = (performance.now() - t) / 1000
  const preRunHwmKb = readStatusKb(pid, 'VmHWM')
  const reset = resetPeakRss(pid)
  sampler.setPhase('run')
  const cpuAtStart = cpuSeconds(pid)
  let cpuAtDone: number | null = null
  let engineCpuS: number | null = null

  ctx.step = `running ${int(lines)} requests`
  const runRssKb: (number | null)[] = [null, null, null, null]
  const final = await pollJob(
    service,
    batch.id,
    w,
    jobTimeoutMs(lines),
    (job) => job.status === 'completed',
    (job) => {
      const done = job.progress ? job.progress.completed + job.progress.failed : 0
      for (let q = 0; q < 4; q++) if (runRssKb[q] === null && done >= ((q + 1) * lines) / 4) runRssKb[q] = readStatusKb(pid, 'VmRSS')
      if (w.doneAt !== null && cpuAtDone === null) {
        cpuAtDone = cpuSeconds(pid)
        const l = readLaunches(service.launchLog).at(-1)
        const api = l ? cpuSeconds(l.pid) : null
        const core = l ? cpuSeconds(l.engine_pid) : null
        engineCpuS = api === null ? null : api + (core ?? 0)
        sampler.setPhase('output')
      }
    },
  )
  sampler.stop()
  const hwm = readStatusKb(pid, 'VmHWM')
  const engine = engineMemory(service.launchLog)
  const launches = readLaunches(service.launchLog)
  const counts = final.request_counts
  if (!counts || counts.total !== lines || counts.completed !== lines || counts.failed !== 0) {
    throw new Error(`batch ${batch.id} ended with counts ${JSON.stringify(counts)}, expected ${lines} completed`)
  }
  const rate = rateOf(w)
  const lifeHwmKb = preRunHwmKb === null || hwm === null ? null : Math.max(preRunHwmKb, hwm, sampler.peakKb)
  return {
    lines,
    fileBytes: input.bytes,
    uploadS,
    validateS,
    rps: rate.rps,
    rateRequests: rate.requests,
    rateSeconds: rate.seconds,
    runWallS: w.inProgressAt !== null && w.doneAt !== null ? (w.doneAt - w.inProgressAt) / 1000 : null,
    finalizeS: w.doneAt !== null && w.completedAt !== null ? (w.completedAt - w.doneAt) / 1000 : null,
    baselineKb,
    preRunHwmKb,
    runHwmKb: reset ? hwm : null,
    lifeHwmKb,
    sampledPeakKb: sampler.peakKb,
    phasePeakKb: { ...sampler.phasePeakKb },
    runRssKb,
    endRssKb: readStatusKb(pid, 'VmRSS'),
    engine,
    serviceCpuS: cpuAtStart !== null && cpuAtDone !== null ? cpuAtDone - cpuAtStart : null,
    engineCpuS,
    engineArgv: launches[launches.length - 1]?.argv ?? [],
    final,
    maxRpsField: w.maxRpsField,
    pid,
    command: commandLine(pid),
  }
}

/** Starts a fresh service, runs one job, stops the service. */
async function freshJob(lines: number, vbs: Record<string, string>, fake: Record<string, string>, o: Options): Promise<JobResult> {
  const setup = serviceSetup(vbs, fake)
  ctx.step = 'starting the service'
  const service = launchService(setup, o)
  await waitUntilListening(service)
  const result = await runJob(service, lines)
  ctx.step = 'stopping the service'
  await stopService(service)
  return result
}

function jobSettings(lines: number, concurrency: number): Record<string, string> {
  return {
    VBS_BATCH_CONCURRENCY: String(concurrency),
    VBS_MAX_REQUESTS_PER_BATCH: String(Math.max(lines, 200_000)),
    VBS_MAX_QUEUED_REQUESTS: String(Math.max(lines, 1_000_000)),
    VBS_MAX_FILE_BYTES: String(2 * 1024 * 1024 * 1024),
  }
}

// ---------------------------------------------------------------------------------------------------
// (a) Orchestration ceiling
// ---------------------------------------------------------------------------------------------------

async function benchCeiling(o: Options): Promise<void> {
  const sizes = o.lines === SMALL_JOB ? [SMALL_JOB] : [Math.min(SMALL_JOB, o.lines), o.lines]
  const results: JobResult[] = []
  for (const lines of sizes) {
    console.error(`(a) ${int(lines)} requests, W=${CEILING_W}, engine latency 0 ms`)
    const r = await freshJob(lines, jobSettings(lines, CEILING_W), { FAKE_VLLM_LATENCY_MS: '0', FAKE_VLLM_LOAD_MS: String(DEFAULT_LOAD_MS) }, o)
    console.error(`    ${f(r.rps, 0)} req/s, service peak ${f(mbOfKb(r.lifeHwmKb))} MB`)
    results.push(r)
  }
  console.log('')
  console.log(`### (a) Orchestration ceiling: W = ${CEILING_W}, engine latency 0 ms, ${os.availableParallelism()} cores (nproc), service + engine + this script on them`)
  console.log('')
  console.log(
    '| requests | file MB | upload s | validate s | rate requests / s | in_progress->all done s (client, incl. engine load) | all done->completed s (output file) | service CPU s (µs / request) | engine CPU s (µs / request) |',
  )
  console.log('|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
  const perRequest = (cpu: number | null, n: number): string => (cpu === null ? 'n/a' : `${f(cpu, 1)} (${f((cpu * 1e6) / n, 0)})`)
  for (const r of results) {
    console.log(
      `| ${int(r.lines)} | ${f(r.fileBytes / MB)} | ${f(r.uploadS, 2)} | ${f(r.validateS, 2)} | **${f(r.rps, 0)}** | ${f(r.runWallS, 2)} | ${f(r.finalizeS, 2)} | ` +
        `${perRequest(r.serviceCpuS, r.lines)} | ${perRequest(r.engineCpuS, r.lines)} |`,
    )
  }
  console.log('')
  console.log(
    '| requests | service peak RSS MB (VmHWM, whole life) | VmHWM run + output | RSS before upload | peak upload | peak validate | peak run | peak output file | RSS at 25 / 50 / 75 / 100 % of the run | RSS after | engine API server peak | EngineCore peak |',
  )
  console.log('|--:|--:|--:|--:|--:|--:|--:|--:|--|--:|--:|--:|')
  for (const r of results) {
    const p = r.phasePeakKb
    console.log(
      `| ${int(r.lines)} | **${f(mbOfKb(r.lifeHwmKb))}** | ${f(mbOfKb(r.runHwmKb))} | ${f(mbOfKb(r.baselineKb))} | ${MEM_PHASES.map((ph) => f(mbOfKb(p[ph]))).join(' | ')} | ` +
        `${r.runRssKb.map((kb) => f(mbOfKb(kb), 0)).join(' / ')} | ${f(mbOfKb(r.endRssKb))} | ${f(mbOfKb(r.engine.apiServerHwmKb))} | ${f(mbOfKb(r.engine.engineCoreHwmKb))} |`,
    )
  }
  console.log('')
  console.log(
    `- rate = requests committed between the first progress snapshot with completed > 0 and the last one, over the service-clock time between them ` +
      `(${results.map((r) => `${int(r.rateRequests)} requests in ${f(r.rateSeconds, 2)} s`).join('; ')}); polled every ${POLL_MS} ms. ` +
      `The progress field requestsPerSecond (15 s window) peaked at ${results.map((r) => f(r.maxRpsField, 0)).join(' / ')}.`,
  )
  console.log(
    `- CPU (utime + stime from /proc): the service from in_progress to every request done; the engine (API server + EngineCore) over its whole life, which is about the same span. ` +
      `The two share the ${os.availableParallelism()} cores (with this script's polling).`,
  )
  console.log(`- peak RSS = VmHWM of pid ${results.map((r) => r.pid).join(' / ')} (${results[0]?.command ?? ''}); whole life = max(VmHWM before in_progress, VmHWM of the run after a reset, sampled VmRSS); the phase peaks are VmRSS sampled every ${RSS_SAMPLE_MS} ms. MB = 10^6 bytes.`)
  for (const r of results) {
    const life = mbOfKb(r.lifeHwmKb)
    console.log(`target: ${int(r.lines)} requests >= ${int(TARGET_RPS)} requests/s: ${f(r.rps, 0)} ${verdict((r.rps ?? 0) >= TARGET_RPS)}`)
    console.log(`target: ${int(r.lines)} requests, service peak RSS < ${TARGET_RSS_MB} MB: ${f(life)} MB ${verdict(life !== null && life < TARGET_RSS_MB)}`)
  }
  if (results.length === 2) {
    const [small, big] = results.map((r) => mbOfKb(r.lifeHwmKb))
    const [smallRun, bigRun] = results.map((r) => mbOfKb(r.runHwmKb))
    const growth = small !== null && big !== null ? big - small : null
    const runGrowth = smallRun !== null && bigRun !== null ? bigRun - smallRun : null
    console.log(
      `target: service peak RSS flat from ${int(results[0].lines)} to ${int(results[1].lines)} (within ${TARGET_FLAT_MB} MB): whole life ${growth !== null && growth >= 0 ? '+' : ''}${f(growth)} MB, run ${runGrowth !== null && runGrowth >= 0 ? '+' : ''}${f(runGrowth)} MB ${verdict(growth !== null && growth < TARGET_FLAT_MB)}`,
    )
  }
}

// ---------------------------------------------------------------------------------------------------
// (b) Efficiency against a latency-bound engine
// ---------------------------------------------------------------------------------------------------

async function benchEfficiency(o: Options): Promise<void> {
  const lines = Math.min(EFFICIENCY_LINES, o.lines)
  console.error(`(b) ${int(lines)} requests, W=${EFFICIENCY_W}, engine latency ${EFFICIENCY_LATENCY_MS} ms`)
  const r = await freshJob(lines, jobSettings(lines, EFFICIENCY_W), { FAKE_VLLM_LATENCY_MS: String(EFFICIENCY_LATENCY_MS), FAKE_VLLM_LOAD_MS: String(DEFAULT_LOAD_MS) }, o)
  const ideal = (EFFICIENCY_W * 1000) / EFFICIENCY_LATENCY_MS
  const ratio = r.rps === null ? null : r.rps / ideal
  const argv = r.engineArgv
  const seqsAt = argv.indexOf('--max-num-seqs')
  const maxNumSeqs = seqsAt >= 0 ? Number(argv[seqsAt + 1]) : FAKE_MAX_NUM_SEQS
  console.log('')
  console.log(`### (b) Efficiency: W = ${EFFICIENCY_W}, engine latency L = ${EFFICIENCY_LATENCY_MS} ms`)
  console.log('')
  console.log('| requests | engine max-num-seqs | ideal W/L req/s | measured req/s | ratio | in_progress->all done s (client, incl. engine load) | service peak RSS MB |')
  console.log('|--:|--:|--:|--:|--:|--:|--:|')
  console.log(`| ${int(lines)} | ${maxNumSeqs}${seqsAt >= 0 ? '' : ' (default)'} | ${f(ideal, 0)} | ${f(r.rps, 1)} | **${f(ratio, 3)}** | ${f(r.runWallS, 2)} | ${f(mbOfKb(r.lifeHwmKb))} |`)
  console.log('')
  console.log(`- measured as in (a): ${int(r.rateRequests)} requests in ${f(r.rateSeconds, 2)} s of service-clock time between the first and the last progress snapshot.`)
  console.log(`- engine argv: ${argv.join(' ')}`)
  console.log(`check: engine max-num-seqs ${maxNumSeqs} > W ${EFFICIENCY_W} (the engine is not the limit): ${maxNumSeqs > EFFICIENCY_W ? 'yes' : 'NO'}`)
  console.log(`target: measured >= ${TARGET_EFFICIENCY} x W/L: ${f(ratio, 3)} ${verdict(ratio !== null && ratio >= TARGET_EFFICIENCY)}`)
}

// ---------------------------------------------------------------------------------------------------
// (c) Resume after kill -9
// ---------------------------------------------------------------------------------------------------

interface RequestLogLine {
  path: string
  status: number | null
  aborted: boolean
  n: number | null
  at: string
}

/** The first line of a JSONL file once it has one (bounded), parsed. */
async function firstLine<T>(file: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let fd: number | null = null
    try {
      fd = fs.openSync(file, 'r')
      const buf = Buffer.alloc(4096)
      const n = fs.readSync(fd, buf, 0, buf.length, 0)
      const text = buf.subarray(0, n).toString('utf8')
      const nl = text.indexOf('\n')
      if (nl > 0) return JSON.parse(text.slice(0, nl)) as T
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    } finally {
      if (fd !== null) fs.closeSync(fd)
    }
    if (Date.now() > deadline) throw new Error(`nothing in ${file} within ${timeoutMs / 1000} s`)
    await delay(5)
  }
}

/** Streams a request log: inference requests answered 200, and all inference requests. */
async function countRequests(file: string): Promise<{ ok: number; all: number; aborted: number }> {
  const out = { ok: 0, all: 0, aborted: 0 }
  if (!fs.existsSync(file)) return out
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })
  for await (const row of rl) {
    if (!row) continue
    const r = JSON.parse(row) as RequestLogLine
    if (r.path !== ENDPOINT) continue
    out.all += 1
    if (r.status === 200) out.ok += 1
    if (r.aborted) out.aborted += 1
  }
  return out
}

/** The service's engine-log notes (`[vllm-batch-server] <ISO time> <message>`) from engine.log and its rotations. */
function engineNotes(dataDir: string): { at: number; message: string }[] {
  const dir = path.join(dataDir, 'logs')
  let names: string[]
  try {
    names = fs.readdirSync(dir).filter((n) => n.startsWith('engine.log'))
  } catch {
    return []
  }
  const notes: { at: number; message: string }[] = []
  for (const name of names) {
    const text = fs.readFileSync(path.join(dir, name), 'utf8')
    for (const m of text.matchAll(/^\[vllm-batch-server\] (\S+) (.*)$/gm)) notes.push({ at: Date.parse(m[1]), message: m[2] })
  }
  return notes.sort((a, b) => a.at - b.at)
}

/** Streams the output file: lines, distinct custom_ids, and lines whose content is not the expected echo. */
async function checkOutput(service: Service, fileId: string): Promise<{ lines: number; unique: number; wrong: number; bytes: number }> {
  const res = await fetch(`${service.url}/v1/files/${fileId}/content`, { headers: { authorization: `Bearer ${service.key}` } })
  if (!res.ok || !res.body) throw new Error(`GET /v1/files/${fileId}/content: ${res.status}`)
  const stream = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>)
  let bytes = 0
  stream.on('data', (c: Buffer) => (bytes += c.length))
  const rl = readline.createInterface({ input: stream, crlfDelay: Infinity })
  const ids = new Set<string>()
  let lines = 0
  let wrong = 0
  for await (const row of rl) {
    if (!row) continue
    lines += 1
    const r = JSON.parse(row) as { custom_id: string; response: { status_code: number; body: { choices: { message: { content: string } }[] } } | null }
    ids.add(r.custom_id)
    const expected = `echo: hi ${r.custom_id.slice(2)}`
    if (r.response?.status_code !== 200 || r.response.body.choices[0]?.message.content !== expected) wrong += 1
  }
  return { lines, unique: ids.size, wrong, bytes }
}

async function benchResume(o: Options): Promise<void> {
  const lines = o.lines
  console.error(`(c) ${int(lines)} requests, W=${RESUME_W}, kill -9 at half, restart`)
  const input = await inputFile(lines)
  const setup = serviceSetup(jobSettings(lines, RESUME_W), { FAKE_VLLM_LATENCY_MS: '0', FAKE_VLLM_LOAD_MS: String(RESUME_LOAD_MS) })
  const log1 = path.join(setup.gpuDir, 'requests-1.jsonl')
  const log2 = path.join(setup.gpuDir, 'requests-2.jsonl')

  ctx.step = '(c) starting the first service'
  const first = launchService(setup, o, { FAKE_VLLM_REQUEST_LOG: log1 })
  await waitUntilListening(first)
  const openai = client(first)
  ctx.step = '(c) uploading'
  const file = await openai.files.create({ file: fs.createReadStream(input.path), purpose: 'batch' })
  const batch = await openai.batches.create({ input_file_id: file.id, endpoint: ENDPOINT, completion_window: '24h' })
  ctx.step = '(c) running the first half'
  const w1 = newWatch()
  const atKill = await pollJob(first, batch.id, w1, jobTimeoutMs(lines), (job) => (job.progress?.completed ?? 0) >= lines / 2)
  const firstLaunch = readLaunches(setup.launchLog)[0]
  first.child.kill('SIGKILL')
  await within(first.exited, KILL_WAIT_MS)
  const i = ctx.services.indexOf(first)
  if (i >= 0) ctx.services.splice(i, 1)
  const rate1 = rateOf(w1)
  const oldEngineAlive = firstLaunch !== undefined && isFake(firstLaunch.pid)
  await delay(300) // the old engine notices its clients are gone; its log settles

  ctx.step = '(c) restarting the service'
  const second = launchService(setup, o, { FAKE_VLLM_REQUEST_LOG: log2 })
  const restartAt = second.spawnedAt
  await waitUntilListening(second)
  const listeningMs = (second.listeningAt as number) - restartAt

  ctx.step = '(c) waiting for the new engine'
  let engine: EngineView
  const engineDeadline = Date.now() + 60_000
  for (;;) {
    const e = await getJson<EngineView>(second, '/api/engine')
    if (e.state === 'ready' && e.readyAt !== null && e.startedAt !== null && e.startedAt >= restartAt) {
      engine = e
      break
    }
    if (Date.now() > engineDeadline) throw new Error(`the engine was not ready 60 s after the restart (state ${e.state}: ${e.lastError ?? ''})`)
    await delay(10)
  }
  const firstRequest = await firstLine<RequestLogLine>(log2, 60_000)
  const firstRequestMs = Date.parse(firstRequest.at) - restartAt
  const notes = engineNotes(setup.dataDir).filter((n) => n.at >= restartAt)
  const endingNote = notes.find((n) => n.message.startsWith('ending engine pid'))
  const launchingNote = notes.find((n) => n.message.startsWith('launching '))
  const launches = readLaunches(setup.launchLog)
  const newLaunch = launches.find((l) => Date.parse(l.at) >= restartAt)
  const oldEngineGone = firstLaunch !== undefined && !isFake(firstLaunch.pid) && !isFake(firstLaunch.engine_pid)

  ctx.step = '(c) running the rest'
  const w2 = newWatch()
  const final = await pollJob(second, batch.id, w2, jobTimeoutMs(lines), (job) => job.status === 'completed')
  const rate2 = rateOf(w2)
  ctx.step = '(c) reading the output file'
  const counts = final.request_counts
  if (!final.output_file_id) throw new Error(`batch ${batch.id} completed without an output file`)
  const out = await checkOutput(second, final.output_file_id)
  ctx.step = '(c) stopping the service'
  await stopService(second)
  const sent1 = await countRequests(log1)
  const sent2 = await countRequests(log2)
  const killedAt = atKill.progress?.completed ?? 0
  const resent = sent1.ok + sent2.ok - lines

  console.log('')
  console.log(`### (c) Resume: ${int(lines)} requests, W = ${RESUME_W}, engine latency 0 ms, fake engine load ${RESUME_LOAD_MS} ms (FAKE_VLLM_LOAD_MS)`)
  console.log('')
  console.log('| requests | committed at kill -9 | restart -> listening ms | -> old engine ended (note) ms | -> engine launched ms | -> engine ready ms | -> first new request at the engine ms | results lines | unique custom_ids | wrong | counts |')
  console.log('|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--|')
  const rel = (at: number | null | undefined): string => (at === null || at === undefined ? 'n/a' : String(at - restartAt))
  console.log(
    `| ${int(lines)} | ${int(killedAt)} | ${listeningMs} | ${rel(endingNote?.at)} | ${rel(engine.startedAt)} | ${rel(engine.readyAt)} | **${firstRequestMs}** | ${int(out.lines)} | ${int(out.unique)} | ${out.wrong} | ${counts ? `${counts.completed}/${counts.total}, failed ${counts.failed}` : 'n/a'} |`,
  )
  console.log('')
  console.log(
    `- times from the restart's spawn (Date.now() in this script) to: the "listening on" line; the service's engine-log note "ending engine pid ..." (the old engine, ` +
      `still running after the kill: ${oldEngineAlive ? 'yes' : 'no'}, ended after the restart: ${oldEngineGone ? 'yes' : 'NO'}); the new engine's startedAt/readyAt (GET /api/engine); ` +
      `the first line of the new engine's own request log (written when that request ended).`,
  )
  console.log(
    `- new engine: launch note ${rel(launchingNote?.at)} ms, the fake's API server logged its start at ${newLaunch ? rel(Date.parse(newLaunch.at)) : 'n/a'} ms; ` +
      `the old engine ${firstLaunch ? `pid ${firstLaunch.pid}` : 'n/a'}, the new one ${newLaunch ? `pid ${newLaunch.pid}` : 'n/a'}`,
  )
  console.log(
    `- requests answered by the engines: ${int(sent1.ok)} before the kill (+${sent1.aborted} aborted by it), ${int(sent2.ok)} after; sent again: ${int(resent)} ` +
      `(bound: W + commit rows = ${RESUME_W + RESUME_COMMIT_ROWS}) ${resent >= 0 && resent <= RESUME_W + RESUME_COMMIT_ROWS ? 'ok' : 'OUT OF BOUND'}`,
  )
  console.log(
    `- rates (as in (a), with the fake's request log on): before the kill ${f(rate1.rps, 0)} req/s, after the restart ${f(rate2.rps, 0)} req/s; output file ${f(out.bytes / MB)} MB`,
  )
  const exact = out.lines === lines && out.unique === lines && out.wrong === 0 && counts?.completed === lines && counts.failed === 0
  console.log(`target: restart -> first new request at the engine < ${TARGET_RESUME_MS} ms: ${firstRequestMs} ms ${verdict(firstRequestMs < TARGET_RESUME_MS)}`)
  console.log(`check: exactly ${int(lines)} unique, correct results: ${exact ? 'yes' : 'NO'}`)
  if (!exact) throw new Error(`the resumed job's output is wrong: ${out.lines} lines, ${out.unique} unique, ${out.wrong} wrong, counts ${JSON.stringify(counts)}`)
}

// ---------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2))
  cleanUpOnSignals(cleanup)
  if (o.cpuProfDir) fs.mkdirSync(o.cpuProfDir, { recursive: true })

  const cpus = os.cpus()
  console.log(`## batch-runner benchmark`)
  console.log('')
  console.log(
    `nproc ${os.availableParallelism()} (${cpus[0]?.model.trim() ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${os.type()} ${os.release()}; ` +
      `service: node ${[...(o.cpuProfDir ? ['--cpu-prof'] : []), ...o.nodeArgs, ...serveArgs().map((a) => path.relative(process.cwd(), a) || a)].join(' ')}, engine: tests/fixtures/fake-vllm; ` +
      `parts: ${o.only.join(', ')}; large job ${int(o.lines)} requests${Object.keys(o.env).length > 0 ? `; extra env ${JSON.stringify(o.env)}` : ''}`,
  )
  const load = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' / ')
  console.log('')
  console.log(`load average (1 / 5 / 15 min) at the start: ${load()} (anything else running on the ${os.availableParallelism()} cores skews the figures)`)
  try {
    if (o.only.includes('a')) await benchCeiling(o)
    if (o.only.includes('b')) await benchEfficiency(o)
    if (o.only.includes('c')) await benchResume(o)
  } catch (err) {
    const service = ctx.services[ctx.services.length - 1]
    throw new Error(`while ${ctx.step}: ${describeError(err)}${service ? `\nthe service's last output:\n${service.output.toString() || '(none)'}` : ''}`, { cause: err })
  } finally {
    await cleanup()
  }
  console.log('')
  console.log(`load average (1 / 5 / 15 min) at the end: ${load()}`)
  if (o.cpuProfDir) summarizeProfiles(o.cpuProfDir)
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`batch-runner benchmark failed: ${err instanceof Error ? err.message : String(err)}`)
    void cleanup().finally(() => process.exit(1))
  },
)
