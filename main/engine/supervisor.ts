import { spawn, type ChildProcess } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import type { Logger } from 'pino'
import type { EngineKind, ModelEntry } from '../config/models'
import type { ServiceEvents } from '../events'
import type { GpuProbe } from '../gpu/nvidia-smi'
import type { EngineBackend, EngineCapabilities, EngineTarget } from './engine-backend'
import type { EngineLog } from './engine-log'
import { ENGINE_TRANSITIONS as NEXT, EngineError, type DownloadProgress, type EngineState, type EngineStatus } from './engine-types'
import { nextPhase, type LoadingPhase } from './loading-phase'
import { groupAlive, groupMembers, groupsWithEnv, hasProc, portOwner, readStat, signalGroup } from './process-group'
import type { ProcessLauncher } from './process-launcher'

export interface SupervisorOptions {
  /** One per supervised kind (vLLM, llama.cpp); the first is the one the status names before any start. */
  launchers: ProcessLauncher[]
  /** Progress of model files fetched before a start. */
  downloads: { progress(modelId: string): DownloadProgress | null }
  engineLog: EngineLog
  dataDir: string
  /** Fixed engine port, or 0 for a free one per launch. */
  port: number
  healthPollMs: number
  /** Longest wait for one answer of GET /health (a poll waits at most 5 polls' time, and never longer than this). */
  healthTimeoutMs: number
  /** Per-model load_timeout_s wins; this is the default. */
  loadTimeoutS: number
  stopGraceMs: number
  killWaitMs: number
  gpuReleaseTimeoutMs: number
  restartLimit: number
  restartWindowMs: number
  restartBackoffMs: number
  gpu: GpuProbe
  log: Logger
  events: ServiceEvents
  /** The pidfile's name in the data dir (each engine of the warm pool has its own); default engine.pid. */
  pidFileName?: string
}

/** What the pidfile records about a launched engine, to find it again after we die. */
interface PidRecord {
  pid: number
  pgid: number
  startTime: number | null
  model: string
  port: number
  bin: string
}

const MiB_SLACK_AFTER_STOP = 512
/** A ready engine's /health is asked at most this often (5 readiness polls' time when that is longer). */
const MONITOR_MIN_INTERVAL_MS = 1000

/**
 * Set in every engine's environment (and so in its children's, vLLM's EngineCore too) to a digest of the data
 * dir: a service that was killed at any moment finds the engines it left by it, even without a pidfile.
 */
export const ENGINE_OWNER_VAR = 'VLLM_BATCH_SERVER_OWNER'

/**
 * Runs an engine process (`vllm serve`, or our llama.cpp child) the way a careful person would: one engine at a time, in its own process group,
 * readiness by /health, every wait bounded, no process left behind, and every transition logged and
 * announced. Crashes of a ready engine are restarted with backoff, a bounded number of times.
 */
export class EngineSupervisor implements EngineBackend {
  readonly engineLog: EngineLog
  private launcher: ProcessLauncher
  private state: EngineState = 'stopped'
  private entry: ModelEntry | null = null
  private child: ChildProcess | null = null
  private pgid: number | null = null
  private port: number | null = null
  /** The launch's key, sent by target() only: never in the status, the logs, the pidfile or argv. */
  private engineKey: string | null = null
  private phase: LoadingPhase | null = null
  private startedAt: number | null = null
  private readyAt: number | null = null
  private error: string | null = null
  /** The last failure: which model, when, and why (requests consult it before loading again). */
  private failure: { model: string; at: number; error: EngineError } | null = null
  private crashTimes: number[] = []
  private exited: Promise<void> = Promise.resolve()
  /** Cancels a restart waiting out its backoff. */
  private pendingRestart: (() => void) | null = null
  private monitorTimer: NodeJS.Timeout | null = null
  /** The start in progress (a launch or a restart): ensure() callers wait on it. */
  private starting: Promise<void> | null = null
  private usedBeforeStartMiB: number | null = null
  /** Ends a download or wait of the start under way when the engine is stopped. */
  private launchAbort: AbortController | null = null
  private readonly pidFile: string
  /** ENGINE_OWNER_VAR's value for this data dir. */
  private readonly owner: string

  constructor(private readonly o: SupervisorOptions) {
    this.engineLog = o.engineLog
    this.launcher = o.launchers[0]
    this.pidFile = path.join(o.dataDir, o.pidFileName ?? 'engine.pid')
    this.owner = crypto.createHash('sha256').update(path.resolve(o.dataDir)).digest('hex').slice(0, 32)
  }

  handles(kind: EngineKind): boolean {
    return this.o.launchers.some((l) => l.kind === kind)
  }

  private launcherFor(entry: ModelEntry): ProcessLauncher {
    const launcher = this.o.launchers.find((l) => l.kind === entry.engine)
    if (!launcher) throw new Error(`no supervised engine runs ${entry.engine} models`)
    return launcher
  }

  check(entry: ModelEntry): void {
    this.launcherFor(entry).check(entry)
  }

  capabilities(entry: ModelEntry): EngineCapabilities {
    return { embeddings: true, priority: true, batchConcurrency: this.launcherFor(entry).batchConcurrency(entry) }
  }

  target(): EngineTarget | null {
    if (this.state !== 'ready' || this.port === null || !this.entry || this.engineKey === null) return null
    const base = `http://127.0.0.1:${this.port}`
    return { url: (p) => `${base}${p}`, headers: { authorization: `Bearer ${this.engineKey}` }, served: this.entry.id, priority: true, allowPromptEmbeds: this.entry.allow_prompt_embeds === true }
  }

  /** A connection to a process engine failed: its exit event or the /health monitor decides; nothing to do. */
  suspect(): void {}

  get lastError(): string | null {
    return this.error
  }

  /** A process engine that is restarting is waited for, not refused. */
  outage(): null {
    return null
  }

  status(): EngineStatus {
    const now = Date.now()
    const model = this.entry?.id ?? null
    return {
      kind: this.launcher.kind,
      state: this.state,
      model: this.entry?.id ?? null,
      pid: this.child?.pid ?? null,
      port: this.port,
      phase: this.phase,
      startedAt: this.startedAt,
      readyAt: this.readyAt,
      uptimeS: this.readyAt && this.state === 'ready' ? Math.round((now - this.readyAt) / 1000) : null,
      lastError: this.error,
      restarts: this.crashTimes.length,
      logTail: this.engineLog.lines(50),
      download: model !== null && this.phase === 'downloading model' ? this.o.downloads.progress(model) : null,
      remoteUrl: null,
      pool: [],
    }
  }

  get baseUrl(): string | null {
    return this.port === null ? null : `http://127.0.0.1:${this.port}`
  }

  get model(): string | null {
    return this.entry?.id ?? null
  }

  /** Whether the model running now may be parked in the warm pool (`sleep: true` in models.yaml). */
  sleepable(): boolean {
    return this.entry?.sleep === true
  }

  /** Host RAM (GiB) the model running now holds while asleep; null when unknown. */
  ramEstimateGb(): number | null {
    return this.entry ? this.launcher.ramEstimateGb(this.entry) : null
  }

  /**
   * Parks the ready engine: it stops serving but keeps its process (vLLM's sleep mode moves the weights to host
   * RAM and frees the GPU; our llama.cpp child stays loaded). A sleep that fails stops the engine for real.
   */
  async sleep(): Promise<void> {
    const entry = this.entry
    if (this.state !== 'ready' || !entry || this.port === null || this.engineKey === null) throw new Error(`cannot put the engine to sleep: it is ${this.state}`)
    const at = { port: this.port, apiKey: this.engineKey }
    this.stopMonitor()
    this.swap('ready', 'sleeping', () => {
      this.phase = null
    })
    this.engineLog.note(`putting ${entry.id} to sleep`)
    try {
      await this.launcher.sleep?.(at, this.loadTimeoutMs(entry))
    } catch (err) {
      const message = `${entry.id} did not go to sleep (${(err as Error).message}); it is stopped instead`
      this.o.log.warn({ model: entry.id, err: (err as Error).message }, 'engine did not go to sleep: stopping it')
      await this.stop('it did not go to sleep')
      throw new EngineError(message, 'stopped')
    }
    if (this.currentState !== 'sleeping') throw new EngineError(`${entry.id} ended while going to sleep`, 'stopped') // died meanwhile
    this.engineLog.note(`${entry.id} is asleep`)
  }

  /** Wakes a sleeping engine (no new process) and resolves once it serves; a wake that fails stops it and rejects. */
  async wake(): Promise<void> {
    const entry = this.entry
    if (this.state !== 'sleeping' || !entry || this.port === null || this.engineKey === null) {
      throw new EngineError(`cannot wake ${entry?.id ?? 'the engine'}: it is ${this.state}`, 'stopped')
    }
    const at = { port: this.port, apiKey: this.engineKey }
    // What the GPU holds besides this engine now (others asleep): a later stop waits until it is back there.
    this.usedBeforeStartMiB = (await this.o.gpu.memory())?.usedMiB ?? null
    if (!this.swap('sleeping', 'waking', () => {
      this.phase = 'loading weights'
      this.startedAt = Date.now()
      this.readyAt = null
      this.error = null
    })) {
      throw new EngineError(`${entry.id} ended while asleep`, 'stopped')
    }
    this.engineLog.note(`waking ${entry.id}`)
    try {
      await this.launcher.wake?.(at, this.loadTimeoutMs(entry))
    } catch (err) {
      const message = `${entry.id} did not wake up (${(err as Error).message})`
      this.o.log.warn({ model: entry.id, err: (err as Error).message }, 'engine did not wake up: stopping it')
      await this.stop('it did not wake up')
      throw new EngineError(message, 'start_failed')
    }
    const woke = this.swap('waking', 'ready', () => {
      this.phase = 'ready'
      this.readyAt = Date.now()
    })
    if (!woke) throw new EngineError(`${entry.id} ended while waking up`, 'stopped')
    this.startMonitor()
  }

  private loadTimeoutMs(entry: ModelEntry): number {
    return (entry.load_timeout_s ?? this.o.loadTimeoutS) * 1000
  }

  get currentState(): EngineState {
    return this.state
  }

  /** The last failure, while the engine is still in `failed`. */
  lastFailure(): { model: string; at: number; error: EngineError } | null {
    return this.state === 'failed' ? this.failure : null
  }

  /** Notes, in the status, that the engine cannot run at all (vLLM missing). */
  markUnavailable(err: EngineError): void {
    this.error = err.message
    if (this.state === 'stopped' || this.state === 'failed') this.transition('failed')
  }

  /** Starts the model and resolves once it answers /health; rejects with an EngineError otherwise. */
  async start(entry: ModelEntry): Promise<void> {
    if (this.state !== 'stopped' && this.state !== 'failed') {
      throw new Error(`cannot start ${entry.id}: the engine is ${this.state}`)
    }
    this.crashTimes = []
    this.error = null // a new start: an earlier failure no longer describes what happens now
    this.starting = this.launch(entry)
    try {
      await this.starting
    } finally {
      this.starting = null
    }
  }

  /** Resolves when a start or restart under way is done (at once when none is). */
  async whenSettled(): Promise<void> {
    while (this.starting) await this.starting.catch(() => undefined)
  }

  /** Stops the engine: SIGTERM to its group, a grace period, SIGKILL, then waits for the GPU to free up. */
  async stop(reason = 'stop requested'): Promise<void> {
    this.launchAbort?.abort()
    this.cancelRestart()
    this.stopMonitor()
    if (this.state === 'stopped' || this.state === 'stopping') return this.whenStopped()
    const pgid = this.pgid
    // A sleeping engine holds little GPU memory, and another engine may be awake: nothing to wait for there.
    const asleep = this.state === 'sleeping'
    this.transition('stopping')
    this.engineLog.note(`stopping ${this.entry?.id ?? 'the engine'} (${reason})`)
    if (pgid !== null) await this.endGroup(pgid)
    await this.exited
    if (!asleep) await this.waitForGpuRelease()
    this.clearProcess()
    this.swap('stopping', 'stopped')
  }

  private async whenStopped(): Promise<void> {
    await waitUntil(() => this.state !== 'stopping', this.o.stopGraceMs + this.o.killWaitMs + this.o.gpuReleaseTimeoutMs)
  }

  /**
   * Ends the engines left running by a previous run of the service that died: the one its pidfile names, and
   * (on Linux) any process started with this data dir's ENGINE_OWNER_VAR, which also finds an engine whose
   * pidfile was never written or was lost (the service killed at the moment it launched or ended one). The
   * pidfile goes only once they are gone, so a service killed again meanwhile still finds them.
   */
  async endLeftover(): Promise<boolean> {
    const groups = new Map<number, string>()
    const record = this.readPidFile()
    if (record && hasProc()) {
      const leader = readStat(record.pid)
      // A live leader must be the very process we started (same start time); a dead leader's group id
      // cannot be reused while any member lives, so remaining members are ours.
      const ours = leader ? leader.startTime === record.startTime && leader.pgrp === record.pgid : groupMembers(record.pgid).length > 0
      if (ours) groups.set(record.pgid, `pid ${record.pid} (${record.model})`)
    }
    if (hasProc()) for (const pgid of groupsWithEnv(ENGINE_OWNER_VAR, this.owner)) if (!groups.has(pgid)) groups.set(pgid, `process group ${pgid}`)
    for (const [pgid, what] of groups) {
      this.o.log.warn({ pgid, engine: what }, 'ending an engine left running by a previous run')
      this.engineLog.note(`ending engine ${what} left running by a previous run`)
      await this.endGroup(pgid)
    }
    if (groups.size > 0) await this.waitForGpuRelease()
    fs.rmSync(this.pidFile, { force: true })
    return groups.size > 0
  }

  private readPidFile(): PidRecord | null {
    let text: string
    try {
      text = fs.readFileSync(this.pidFile, 'utf8')
    } catch {
      return null
    }
    try {
      return JSON.parse(text) as PidRecord
    } catch {
      this.o.log.warn({ file: this.pidFile }, 'the engine pidfile is unreadable; left-over engines are looked for by their environment')
      return null
    }
  }

  private async launch(entry: ModelEntry): Promise<void> {
    const launcher = this.launcherFor(entry)
    this.launcher = launcher
    try {
      launcher.check(entry)
    } catch (err) {
      this.entry = entry
      this.fail((err as EngineError).message, err instanceof EngineError ? err.kind : 'not_found')
      throw err
    }
    const memory = await this.o.gpu.memory()
    this.usedBeforeStartMiB = memory?.usedMiB ?? null
    if (memory && entry.vram_gb !== undefined) {
      const needMiB = entry.vram_gb * 1024
      if (needMiB > memory.freeMiB) {
        this.entry = entry
        const gib = (mib: number): string => (mib / 1024).toFixed(1)
        const message =
          `${entry.id} needs about ${entry.vram_gb} GiB of GPU memory but only ${gib(memory.freeMiB)} GiB of ` +
          `${gib(memory.totalMiB)} GiB is free; close what else uses the GPU or pick a smaller model`
        this.fail(message, 'no_memory')
        throw new EngineError(message, 'no_memory')
      }
    }
    const port = this.o.port || (await freePort())
    // A fresh key per launch: a local process (or a web page rebinding DNS to loopback) that reaches the port
    // cannot use the engine, and a key seen by an engine that has ended opens nothing.
    const apiKey = crypto.randomBytes(32).toString('base64url')
    this.entry = entry
    this.port = port
    this.engineKey = apiKey
    this.phase = 'starting process'
    this.startedAt = Date.now()
    this.readyAt = null
    this.transition('starting')
    const abort = new AbortController()
    this.launchAbort = abort
    let command: Awaited<ReturnType<ProcessLauncher['prepare']>>
    try {
      command = await launcher.prepare(entry, {
        host: '127.0.0.1',
        port,
        apiKey,
        signal: abort.signal,
        downloading: () => {
          this.phase = 'downloading model'
          this.engineLog.note(`downloading the model file of ${entry.id} (${entry.model})`)
          this.announce()
        },
      })
    } catch (err) {
      this.stillStarting(entry)
      const e = err instanceof EngineError ? err : new EngineError((err as Error).message, 'start_failed')
      this.fail(e.message, e.kind)
      throw e
    } finally {
      if (this.launchAbort === abort) this.launchAbort = null
    }
    this.stillStarting(entry)
    const { bin, argv } = command
    this.phase = 'starting process'
    this.startedAt = Date.now()
    this.engineLog.note(`launching ${bin} ${argv.join(' ')}`)

    const child = spawn(bin, argv, {
      detached: true, // its own process group: one signal reaches the engine and its children (vLLM's EngineCore)
      env: { ...command.env, [ENGINE_OWNER_VAR]: this.owner },
      cwd: command.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.child = child
    this.pgid = child.pid ?? null
    let exitInfo: string | null = null
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exitInfo = signal ? `killed by ${signal}` : `exit code ${code}`
        this.engineLog.note(`engine process ended (${exitInfo})`)
        resolve()
        this.onExit(child, exitInfo)
      })
      child.once('error', (err) => {
        exitInfo = `could not run: ${err.message}`
        this.engineLog.note(exitInfo)
        resolve()
      })
    })
    // Readiness is /health's answer, polled once a second; the log's last start-up line only makes the next
    // poll come at once, so a swap does not wait out a poll interval.
    let pollNow: (() => void) | null = null
    let readyLine = false // seen, and not yet answered by an early poll
    const onOutput = (chunk: Buffer): void =>
      this.engineLog.write(chunk, (line) => {
        if (this.state !== 'starting' || this.phase === null) return
        const next = nextPhase(this.phase, line)
        if (next !== this.phase) {
          this.phase = next
          this.announce()
          if (next === 'ready') {
            readyLine = true
            pollNow?.()
          }
        }
      })
    child.stdout!.on('data', onOutput)
    child.stderr!.on('data', onOutput)
    if (child.pid !== undefined) this.writePidFile({ pid: child.pid, pgid: child.pid, startTime: readStat(child.pid)?.startTime ?? null, model: entry.id, port, bin })

    const timeoutS = entry.load_timeout_s ?? this.o.loadTimeoutS
    const deadline = Date.now() + timeoutS * 1000
    // The port was free when picked, but anything could bind it before the engine does: a /health answer
    // counts only from a socket of the engine's own process group, or requests (and the key) would go there.
    let impostor = false
    const portTaken = (): string =>
      impostor ? ` Port ${port} was answered by another process, not the engine (it was taken after being picked as free); requests were not sent to it.` : ''
    for (;;) {
      this.stillStarting(entry)
      if (exitInfo !== null) {
        const message = `${launcher.label} exited while loading ${entry.id} (${exitInfo}).${portTaken()} Last lines of its log:\n${this.engineLog.lines(15).join('\n')}`
        if (this.pgid !== null) await this.endGroup(this.pgid, 0)
        this.fail(message, 'start_failed')
        throw new EngineError(message, 'start_failed')
      }
      if (await healthy(port, Math.min(this.o.healthPollMs * 5, this.o.healthTimeoutMs))) {
        // 'none' (an answer, yet no listener in /proc/net/tcp) means /proc cannot tell here: like 'unknown'.
        const owner = this.pgid === null ? 'unknown' : portOwner(port, this.pgid)
        if (owner !== 'foreign') break
        if (!impostor) {
          impostor = true
          this.o.log.warn({ port, model: entry.id }, 'the engine port is held by another process; waiting for the engine itself')
          this.engineLog.note(`port ${port} answers /health from a process outside the engine's group: not using it`)
        }
      }
      if (Date.now() > deadline) {
        const message = `${entry.id} did not become ready within ${timeoutS} s (load_timeout_s).${portTaken()} Last lines of its log:\n${this.engineLog.lines(15).join('\n')}`
        if (this.pgid !== null) await this.endGroup(this.pgid)
        await this.exited
        this.fail(message, 'timeout')
        throw new EngineError(message, 'timeout')
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.o.healthPollMs)
        pollNow = () => {
          readyLine = false
          clearTimeout(timer)
          resolve()
        }
        if (readyLine) pollNow() // the line came while the last poll was in flight
      })
      pollNow = null
    }
    this.phase = 'ready'
    this.readyAt = Date.now()
    this.error = null
    if (!this.swap('starting', 'ready')) this.stillStarting(entry)
    this.startMonitor()
  }

  /** The engine process ended. During a stop or a start that is expected; when it was serving, it crashed. */
  private onExit(child: ChildProcess, exitInfo: string): void {
    if (child !== this.child) return
    if (this.state === 'sleeping') return void this.dropAsleep(exitInfo)
    if (this.state !== 'ready') return
    void this.recoverFromCrash(`${this.launcher.label} exited unexpectedly (${exitInfo})`)
  }

  private async recoverFromCrash(reason: string): Promise<void> {
    const entry = this.entry!
    this.stopMonitor()
    // Leave `ready` at once: the exit event of the process ended below must not count as a second crash.
    const moved = this.swap('ready', 'starting', () => {
      this.error = reason
      this.phase = 'starting process'
    })
    if (!moved) return // a stop or another crash report came first
    this.o.log.error({ model: entry.id, reason }, 'engine crashed')
    this.engineLog.note(`crash: ${reason}`)
    // EngineCore outlives a dead API server and holds the GPU: end the whole group before anything else.
    if (this.pgid !== null) await this.endGroup(this.pgid, 0)
    await this.exited
    if (this.state !== 'starting') return // stopped meanwhile
    const now = Date.now()
    this.crashTimes = [...this.crashTimes.filter((t) => now - t < this.o.restartWindowMs), now]
    const n = this.crashTimes.length
    if (n > this.o.restartLimit) {
      this.fail(
        `${reason}; it crashed ${n} times within ${Math.round(this.o.restartWindowMs / 60000)} min, so it is not restarted again. ` +
          `Start it again from the tray or POST /api/engine/start. Last lines of its log:\n${this.engineLog.lines(15).join('\n')}`,
        'crashed',
      )
      return
    }
    const backoff = this.o.restartBackoffMs * 2 ** (n - 1)
    this.error = `${reason}; restarting in ${Math.round(backoff / 1000)} s (restart ${n} of ${this.o.restartLimit})`
    this.announce()
    const attempt = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingRestart = null
        if (this.state !== 'starting') return resolve()
        this.launch(entry).then(resolve, reject)
      }, backoff)
      this.pendingRestart = () => {
        clearTimeout(timer)
        this.pendingRestart = null
        resolve()
      }
    })
    this.starting = attempt
    attempt
      .catch((err: unknown) => this.o.log.error({ err }, 'restart failed'))
      .finally(() => {
        if (this.starting === attempt) this.starting = null
      })
  }

  /** A sleeping engine ended: it is not restarted (nobody waits for it), only cleaned up; the next use starts afresh. */
  private async dropAsleep(exitInfo: string): Promise<void> {
    const model = this.entry?.id
    if (!this.swap('sleeping', 'stopping')) return
    this.o.log.warn({ model, exitInfo }, 'a sleeping engine ended: dropped from the warm pool')
    this.engineLog.note(`${model ?? 'the engine'} ended while asleep (${exitInfo}): dropped from the warm pool`)
    if (this.pgid !== null) await this.endGroup(this.pgid, 0) // vLLM's EngineCore outlives its API server
    await this.exited
    this.clearProcess()
    this.swap('stopping', 'stopped')
  }

  private cancelRestart(): void {
    this.pendingRestart?.()
  }

  /** SIGTERM to the group, up to graceMs for it to end, then SIGKILL and a bounded wait. */
  private async endGroup(pgid: number, graceMs = this.o.stopGraceMs): Promise<void> {
    if (graceMs > 0 && signalGroup(pgid, 'SIGTERM')) {
      await waitUntil(() => !groupAlive(pgid), graceMs)
    }
    if (groupAlive(pgid)) {
      this.engineLog.note(graceMs > 0 ? `still running ${graceMs} ms after SIGTERM: SIGKILL` : 'SIGKILL to the engine group')
      signalGroup(pgid, 'SIGKILL')
      const gone = await waitUntil(() => !groupAlive(pgid), this.o.killWaitMs)
      if (!gone) this.o.log.error({ pgid }, 'engine process group still alive after SIGKILL')
    }
  }

  /** Waits (bounded) until the GPU's used memory falls back to what it was before the engine started. */
  private async waitForGpuRelease(): Promise<void> {
    const before = this.usedBeforeStartMiB
    const first = await this.o.gpu.memory()
    if (!first) return
    const target = (before ?? 0) + MiB_SLACK_AFTER_STOP
    if (before === null || first.usedMiB <= target) return
    const released = await waitUntilAsync(async () => {
      const m = await this.o.gpu.memory()
      return m === null || m.usedMiB <= target
    }, this.o.gpuReleaseTimeoutMs)
    if (!released) {
      this.o.log.warn({ before, target }, 'GPU memory was not released in time after the engine stopped')
      this.engineLog.note(`GPU memory still in use ${this.o.gpuReleaseTimeoutMs} ms after the engine ended`)
    }
  }

  /** While serving, a /health that keeps failing (EngineCore dead behind a live API server) counts as a crash. */
  private startMonitor(): void {
    let failures = 0
    const interval = Math.max(this.o.healthPollMs * 5, MONITOR_MIN_INTERVAL_MS)
    this.monitorTimer = setInterval(() => {
      if (this.state !== 'ready' || this.port === null) return
      void healthy(this.port, Math.min(interval, this.o.healthTimeoutMs)).then((ok) => {
        failures = ok ? 0 : failures + 1
        if (failures >= 3 && this.state === 'ready') {
          failures = 0
          void this.recoverFromCrash(`${this.launcher.label} stopped answering /health`)
        }
      })
    }, interval)
    this.monitorTimer.unref()
  }

  private stopMonitor(): void {
    if (this.monitorTimer) clearInterval(this.monitorTimer)
    this.monitorTimer = null
  }

  private fail(message: string, kind: EngineError['kind']): void {
    this.error = message
    this.phase = null
    this.failure = { model: this.entry?.id ?? '', at: Date.now(), error: new EngineError(message, kind) }
    this.transition('failed')
  }

  private clearProcess(): void {
    this.child = null
    this.pgid = null
    this.port = null
    this.engineKey = null
    this.phase = null
    this.readyAt = null
    fs.rmSync(this.pidFile, { force: true })
  }

  /** Atomically (a kill mid-write leaves the old file or the new one, never half of one). */
  private writePidFile(record: PidRecord): void {
    const tmp = `${this.pidFile}.tmp`
    fs.writeFileSync(tmp, JSON.stringify(record), { mode: 0o600 })
    fs.renameSync(tmp, this.pidFile)
  }

  /** The engine must still be starting `entry`: a stop that came while the start waited ends the start here. */
  private stillStarting(entry: ModelEntry): void {
    if (this.state !== 'starting') throw new EngineError(`start of ${entry.id} was interrupted (${this.state})`, 'stopped')
  }

  /**
   * Moves from `expected` to `to` only while the engine is still `expected` (llama-swap's swapState): after an
   * await, another path (a stop, a crash) may have moved it first; then nothing changes and it says false.
   * `apply` sets what goes with the move, so that the announcement of the new state carries it.
   */
  private swap(expected: EngineState, to: EngineState, apply?: () => void): boolean {
    if (this.state !== expected) {
      this.o.log.debug({ expected, actual: this.state, to }, `engine: not moved to ${to}: it is ${this.state}, not ${expected}`)
      return false
    }
    apply?.()
    this.transition(to)
    return true
  }

  private transition(to: EngineState): void {
    const from = this.state
    if (from !== to && !NEXT[from].includes(to)) throw new Error(`engine cannot go from ${from} to ${to}`)
    this.state = to
    this.o.log.info({ from, to, model: this.entry?.id, error: to === 'failed' ? this.error : undefined }, `engine: ${from} -> ${to}`)
    this.announce(from)
  }

  private announce(from: EngineState = this.state): void {
    this.o.events.emit('engine.state', { from, status: this.status() })
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function waitUntil(check: () => boolean, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() >= deadline) return false
    await delay(stepMs)
  }
  return true
}

async function waitUntilAsync(check: () => Promise<boolean>, timeoutMs: number, stepMs = 500): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() >= deadline) return false
    await delay(stepMs)
  }
  return true
}

/** A port on loopback that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** GET /health on the engine: true on 200. Connection refused (still loading) and timeouts are false. */
export function healthy(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', timeout: timeoutMs, agent: false }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(false))
  })
}
