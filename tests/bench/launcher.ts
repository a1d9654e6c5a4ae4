/**
 * The one way the benchmarks start the service under test, and the clean-up of everything a benchmark started.
 *
 * `bench.start(options)` runs `npm run serve`'s command (read from package.json: its node flags and entry) as a
 * child process on a fresh temp data dir (or a given one, to restart on the same data), with VBS_HOST 127.0.0.1,
 * VBS_PORT 0, an API key and the options' environment; it waits (bounded) for the "listening on" line, which
 * the service prints once it accepts connections, and finds through /proc the process that holds the
 * listening socket. The Service it returns offers the base URL, the key, that pid, the data dir, the spawn and
 * listening times, the last output, an `openai` client, the service's own API, the engine's start (and the
 * headers that reach the engine's port directly, with its per-launch key), and `stop()`:
 * SIGTERM (the service stops its engine), bounded waits, then SIGKILL to whatever is left of the processes
 * started under it.
 *
 * `bench` registers every service (from its spawn), temp dir and clean-up hook at once; `bench.cleanup()`
 * stops the services, runs the hooks and removes the temp dirs, once, also on an error or Ctrl-C
 * (`bench.run`). `bench.step` says what a benchmark is doing, for its error message.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import OpenAI from 'openai'
import { serveArgs } from '../helpers/serve-command'
import { cleanUpOnSignals, delay, describeError, Tail, within } from './bench-util'
import { commandLine, environOf, findListeningProcess, processTree } from './proc-memory'

export const ROOT = path.resolve(__dirname, '..', '..')

const LISTEN_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 30_000
const KILL_WAIT_MS = 5_000
const LISTENING = /listening on http:\/\/\S+ \(this machine: (http:\/\/[^)]+)\)/

/** Variables of this process the service does not inherit: its own settings, the fake engine's knobs, NODE_OPTIONS. */
const NOT_INHERITED = /^(VBS_|FAKE_|VLLM_)|^NODE_OPTIONS$/

/** A fresh API key (the service takes keys from the environment of at least 32 characters). */
export const randomKey = (): string => `bench-${randomBytes(24).toString('hex')}`

export interface LaunchOptions {
  /** The service's environment, over this process's (less NOT_INHERITED) and the launcher's VBS_ settings. */
  env?: Record<string, string>
  /** The data dir; default a fresh temp dir named `dataPrefix`..., removed at the clean-up. */
  dataDir?: string
  dataPrefix?: string
  /** A models.yaml: written to <data dir>/bench-models.yaml, which VBS_MODELS names. */
  models?: string
  /** VBS_API_KEY; default randomKey(). */
  key?: string
  /** Node flags before `npm run serve`'s own (e.g. --cpu-prof). */
  nodeArgs?: string[]
  /** A dir that keeps each service's whole output (service-<n>.log). */
  outputDir?: string | null
  /** Also pass the service's stderr on to this process's. */
  echoStderr?: boolean
  /** The bound of SIGTERM -> exit in stop() (default 30 s). */
  stopTimeoutMs?: number
}

/** GET /api/engine. */
export interface EngineView {
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

export class Service {
  readonly child: ChildProcess
  readonly exited: Promise<void>
  /** The last 8 KB it printed, stdout and stderr. */
  readonly output = new Tail()
  /** Date.now() just before the spawn, and when the "listening on" line arrived. */
  readonly spawnedAt: number
  listeningAt: number | null = null
  /** Set once it listens: its base URL (no /v1), and the process that holds the listening socket. */
  url = ''
  pid = -1
  /** The engine's pid once startEngine saw it ready (stop() ends it too if it outlives the service). */
  enginePid: number | null = null
  private readonly tracked = new Set<number>()
  private readonly stopTimeoutMs: number

  constructor(
    readonly key: string,
    readonly dataDir: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    o: LaunchOptions,
    keepOutput: string | null,
    private readonly gone: (s: Service) => void,
  ) {
    this.stopTimeoutMs = o.stopTimeoutMs ?? STOP_TIMEOUT_MS
    this.spawnedAt = Date.now()
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve())
      child.once('error', () => resolve()) // never spawned: nothing to wait for
    })
    child.stdout?.on('data', (chunk: Buffer) => this.output.push(chunk))
    child.stderr?.on('data', (chunk: Buffer) => this.output.push(chunk))
    if (o.echoStderr) child.stderr?.pipe(process.stderr, { end: false })
    if (keepOutput) {
      const keep = fs.createWriteStream(keepOutput)
      child.stdout?.pipe(keep)
      child.stderr?.pipe(keep)
    }
  }

  /** Whether the spawned process still runs. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** Waits (bounded) for the "listening on" line, then finds the process that holds the listening socket. */
  async listening(timeoutMs = LISTEN_TIMEOUT_MS): Promise<void> {
    const { child, output } = this
    const url = await new Promise<string>((resolve, reject) => {
      let stdout = ''
      const finish = (err: Error | null, value = ''): void => {
        clearTimeout(timer)
        child.stdout?.off('data', onData)
        child.off('error', onError)
        child.off('exit', onExit)
        if (err) reject(err)
        else resolve(value)
      }
      const onData = (chunk: Buffer): void => {
        stdout += chunk.toString()
        const match = LISTENING.exec(stdout)
        if (match) {
          this.listeningAt = Date.now()
          finish(null, match[1])
        }
      }
      const onError = (err: Error): void => finish(new Error(`cannot start the service: ${err.message}`))
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
        finish(new Error(`the service exited before listening (code ${code}, signal ${signal}); output:\n${output}`))
      const timer = setTimeout(() => finish(new Error(`the service did not listen within ${timeoutMs / 1000} s; output:\n${output}`)), timeoutMs)
      child.stdout?.on('data', onData)
      child.once('error', onError)
      child.once('exit', onExit)
    })
    if (child.pid === undefined) throw new Error('the service has no pid')
    const port = Number(new URL(url).port)
    const pid = findListeningProcess(child.pid, port)
    if (pid === null) throw new Error(`no process under pid ${child.pid} (the launched service) holds a socket listening on port ${port}`)
    this.url = url
    this.pid = pid
  }

  /** A request to the service's API with its key: the JSON answer, or an error naming the status. */
  async api<T>(pathname: string, init: { method?: 'GET' | 'POST'; body?: unknown; timeoutMs?: number } = {}): Promise<T> {
    const method = init.method ?? (init.body === undefined ? 'GET' : 'POST')
    const res = await fetch(`${this.url}${pathname}`, {
      method,
      headers: { authorization: `Bearer ${this.key}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      signal: AbortSignal.timeout(init.timeoutMs ?? 10_000),
    })
    if (!res.ok) throw new Error(`${method} ${pathname}: ${res.status} ${await res.text()}`)
    return (await res.json()) as T
  }

  /** The official SDK against the service: no retries, a 10-minute timeout. */
  openai(): OpenAI {
    return new OpenAI({ apiKey: this.key, baseURL: `${this.url}/v1`, maxRetries: 0, timeout: 10 * 60_000 })
  }

  /** POST /api/engine/start, then GET /api/engine every pollMs until it is ready with that model (bounded). */
  async startEngine(model: string, pollMs: number, timeoutMs = 120_000): Promise<EngineView> {
    await this.api('/api/engine/start', { body: { model } })
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const engine = await this.api<EngineView>('/api/engine')
      if (engine.state === 'ready' && engine.model === model) {
        this.enginePid = engine.pid
        if (engine.pid !== null) this.tracked.add(engine.pid)
        return engine
      }
      if (engine.state === 'failed') throw new Error(`the engine failed to load: ${engine.lastError}\n${(engine.logTail ?? []).join('\n')}`)
      if (Date.now() > deadline) throw new Error(`the engine was not ready within ${timeoutMs / 1000} s (state ${engine.state})`)
      await delay(pollMs)
    }
  }

  /**
   * Headers for a request straight to the engine's port, as the service's proxy sends them: the key the
   * service launched it with (a fresh one each launch, LLAMA_API_KEY or VLLM_API_KEY in the engine's
   * environment), read from /proc. Empty before startEngine.
   */
  engineHeaders(): Record<string, string> {
    const pid = this.enginePid
    const key = pid === null ? null : (environOf(pid, 'LLAMA_API_KEY') ?? environOf(pid, 'VLLM_API_KEY'))
    return key ? { authorization: `Bearer ${key}` } : {}
  }

  /** SIGTERM (the service stops its engine), a bounded wait, then SIGKILL to whatever is left of its tree. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const root = this.child.pid
    if (root !== undefined) {
      // The processes started, with their command lines, so a reused pid is never signalled.
      const started = [...new Set([...processTree(root), ...this.tracked])].map((pid) => ({ pid, cmd: commandLine(pid) }))
      const stillRunning = (): number[] => started.filter((p) => p.cmd !== '' && commandLine(p.pid) === p.cmd).map((p) => p.pid)
      if (this.running) this.child.kill(signal)
      const stopped = await within(this.exited, this.stopTimeoutMs)
      if (!stopped) console.error(`the service did not stop within ${this.stopTimeoutMs / 1000} s of ${signal}; SIGKILL`)
      // After a clean stop its children are gone too; give them a moment before forcing it.
      if (stopped) for (let waited = 0; stillRunning().length > 0 && waited < KILL_WAIT_MS; waited += 100) await delay(100)
      for (const pid of stillRunning()) {
        console.error(`clean-up: SIGKILL to pid ${pid} (${commandLine(pid).slice(0, 80)}) left running`)
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // gone
        }
      }
      await within(this.exited, KILL_WAIT_MS)
    }
    this.gone(this)
  }

  /** SIGKILL to the service alone (its engine, in a process group of its own, keeps running), bounded. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL')
    await within(this.exited, KILL_WAIT_MS)
    this.gone(this)
  }

  /** For an error message: how it ended, if it did, and its last output. */
  describe(): string {
    const ended = this.running ? '' : ` (it exited: code ${this.child.exitCode}, signal ${this.child.signalCode})`
    return `the service's last output${ended}:\n${this.output.toString() || '(none)'}`
  }
}

export class Bench {
  /** What the benchmark is doing, for its error message. */
  step = 'starting'
  /** The services that run (from their spawn until stop() or kill()). */
  readonly services: Service[] = []
  private readonly temps: string[] = []
  private readonly hooks: (() => unknown)[] = []
  private launched = 0
  private cleaning: Promise<void> | null = null

  /** A fresh temp dir, removed at the clean-up. */
  tempDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
    this.temps.push(dir)
    return dir
  }

  /** Something to do at the clean-up, after the services are stopped and before the temp dirs go. */
  onCleanup(hook: () => unknown): void {
    this.hooks.push(hook)
  }

  /** Starts the service (registered for the clean-up from its spawn) and waits until it listens. */
  async start(o: LaunchOptions = {}): Promise<Service> {
    const dataDir = o.dataDir ?? this.tempDir(o.dataPrefix ?? 'vbs-bench-data-')
    const key = o.key ?? randomKey()
    const settings: Record<string, string> = { VBS_DATA_DIR: dataDir, VBS_HOST: '127.0.0.1', VBS_PORT: '0', VBS_API_KEY: key }
    if (o.models !== undefined) {
      settings.VBS_MODELS = path.join(dataDir, 'bench-models.yaml')
      fs.writeFileSync(settings.VBS_MODELS, o.models)
    }
    const env: NodeJS.ProcessEnv = {}
    for (const [k, v] of Object.entries(process.env)) if (!NOT_INHERITED.test(k)) env[k] = v
    Object.assign(env, settings, o.env)
    this.launched += 1
    let keepOutput: string | null = null
    if (o.outputDir) {
      fs.mkdirSync(o.outputDir, { recursive: true })
      keepOutput = path.join(o.outputDir, `service-${this.launched}.log`)
    }
    const service = new Service(key, dataDir, [...(o.nodeArgs ?? []), ...serveArgs()], env, o, keepOutput, (s) => {
      const i = this.services.indexOf(s)
      if (i >= 0) this.services.splice(i, 1)
    })
    this.services.push(service)
    await service.listening()
    return service
  }

  /** Stops the services, runs the hooks, removes the temp dirs: once, whoever asks. */
  cleanup(): Promise<void> {
    return (this.cleaning ??= (async () => {
      for (const service of this.services.slice()) await service.stop().catch((err: unknown) => console.error(`clean-up: ${describeError(err)}`))
      for (const hook of this.hooks.splice(0)) {
        try {
          await hook()
        } catch (err) {
          console.error(`clean-up: ${describeError(err)}`)
        }
      }
      for (const dir of this.temps.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
    })())
  }

  /**
   * Runs the measured part of a benchmark. An error names the step it happened in and the last running
   * service's output; the clean-up runs after it whatever happens (so a report comes after the services stopped).
   */
  async measure<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body()
    } catch (err) {
      const service = this.services[this.services.length - 1]
      throw new Error(`while ${this.step}: ${describeError(err)}${service ? `\n${service.describe()}` : ''}`, { cause: err })
    } finally {
      await this.cleanup()
    }
  }

  /** A benchmark's main: the clean-up on Ctrl-C and SIGTERM; exit 0, or 1 with the error once it is cleaned up. */
  run(name: string, main: () => Promise<void>): void {
    cleanUpOnSignals(() => this.cleanup())
    main().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`${name} benchmark failed: ${err instanceof Error ? err.message : String(err)}`)
        void this.cleanup().finally(() => process.exit(1))
      },
    )
  }
}

/** The benchmark this process runs. */
export const bench = new Bench()
