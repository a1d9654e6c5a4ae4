import { spawn, type ChildProcess } from 'node:child_process'
import type { Logger } from 'pino'
import { childEnv } from '../engine/child-env'
import { discoverSystem, UNKNOWN_INFO, type Discovery, type GpuInfo } from './discovery'
import { RingBuffer } from './ring-buffer'
import type { ThermalReading } from './thermal-guard'
import type { GpuSample, GpuStatus } from '../contract/gpu'

export type { GpuInfo, GpuSample, GpuStatus } from '../contract/gpu'

export interface GpuTelemetryOptions {
  /** Sampling period (nvidia-smi -lms). Default 2000. */
  pollMs?: number
  /** How much history to keep. Default 600000 (10 min). */
  historyMs?: number
  /** The environment nvidia-smi (and the discovery) run in: its PATH finds nvidia-smi and lspci. */
  env: NodeJS.ProcessEnv
  log: Logger
  onSample?: (sample: GpuSample) => void
  /** Called once discovery is done (all fields null when it failed or timed out), and again after a rediscovery. */
  onInfo?: (info: GpuInfo) => void
  /** Called when status() changes. */
  onStatus?: (status: GpuStatus) => void
  /** The binary, on PATH or a path. Default 'nvidia-smi'. */
  bin?: string
  /** First delay before restarting an nvidia-smi that exited after it had been sampling; doubles up to restartBackoffMaxMs. Default 1000. */
  restartBackoffMs?: number
  /** Default 60000. A child that ran at least this long starts the backoff over. */
  restartBackoffMaxMs?: number
  /** Delay between attempts while there is no GPU (nvidia-smi missing or failing at once). Default 60000. */
  noGpuRetryMs?: number
  /** An nvidia-smi that prints no sample for this long is killed and restarted. Default max(5 x pollMs, 15000). */
  stallMs?: number
  /** Bound on the discovery child. Default 15000. */
  discoveryTimeoutMs?: number
  /** Bound on each stage of stop() (SIGTERM, then SIGKILL). Default 2000. */
  stopTimeoutMs?: number
}

/** The query, in the column order parseSampleLine expects. */
export const SAMPLE_FIELDS = [
  'index',
  'temperature.gpu',
  'memory.used',
  'memory.total',
  'utilization.gpu',
  'power.draw',
  'power.limit',
  'fan.speed',
] as const

/** A sample line of `--format=csv,noheader,nounits` for SAMPLE_FIELDS, or null when the line is something else. */
export function parseSampleLine(line: string, at: number): { index: number; sample: GpuSample } | null {
  const cells = line.split(',').map((c) => c.trim())
  if (cells.length !== SAMPLE_FIELDS.length || !/^\d+$/.test(cells[0])) return null
  // `[N/A]`, `[Not Supported]`, `N/A`, `[Unknown Error]` and anything else that is not a number: null.
  const num = (cell: string): number | null => {
    if (!/^-?\d+(\.\d+)?$/.test(cell)) return null
    return Number(cell)
  }
  return {
    index: Number(cells[0]),
    sample: {
      at,
      temperatureC: num(cells[1]),
      memoryUsedMiB: num(cells[2]),
      memoryTotalMiB: num(cells[3]),
      utilizationPct: num(cells[4]),
      powerW: num(cells[5]),
      powerLimitW: num(cells[6]),
      fanPct: num(cells[7]),
    },
  }
}

/** One nvidia-smi sampling child, from spawn to close. */
interface SamplerRun {
  child: ChildProcess
  startedAt: number
  samples: number
  /** The last lines that were not samples (stdout and stderr): nvidia-smi's own explanation of a failure. */
  messages: string[]
  /** Set when we killed it (stalled), to say so instead of "killed by SIGKILL". */
  killedFor: string | null
  stallTimer: NodeJS.Timeout | null
  closed: Promise<void>
}

type RunEnd = { error: NodeJS.ErrnoException } | { code: number | null; signal: NodeJS.Signals | null }

const MAX_LINE = 64 * 1024
const MAX_MESSAGES = 5

/**
 * Live GPU telemetry from ONE long-lived `nvidia-smi --query-gpu=... -lms <pollMs>` child whose lines are
 * parsed as they arrive, so sampling never blocks the event loop. Samples of GPU 0 go into a ring buffer
 * sized for `historyMs`. A child that exits is restarted with bounded exponential backoff; without a GPU
 * (nvidia-smi missing, or failing at once: no driver) status() says why and it checks again slowly.
 * Nothing here throws once constructed: everything else in the service works without a GPU.
 *
 * If the service dies without stop(), the child's stdout pipe closes and nvidia-smi ends at its next
 * sample (SIGPIPE), so no sampler outlives us for more than pollMs.
 */
export class GpuTelemetry {
  private readonly pollMs: number
  private readonly historyMs: number
  private readonly bin: string
  private readonly restartBackoffMs: number
  private readonly restartBackoffMaxMs: number
  private readonly noGpuRetryMs: number
  private readonly stallMs: number
  private readonly discoveryTimeoutMs: number
  private readonly stopTimeoutMs: number
  private readonly ring: RingBuffer<GpuSample>
  private running = false
  private run: SamplerRun | null = null
  private retryTimer: NodeJS.Timeout | null = null
  private backoffMs: number
  private state: GpuStatus = { available: false, reason: 'not started' }
  private gpuInfo: GpuInfo = UNKNOWN_INFO
  private discovery: Discovery | null = null

  constructor(private readonly o: GpuTelemetryOptions) {
    this.pollMs = o.pollMs ?? 2000
    this.historyMs = o.historyMs ?? 600_000
    this.bin = o.bin ?? 'nvidia-smi'
    this.restartBackoffMs = o.restartBackoffMs ?? 1000
    this.restartBackoffMaxMs = o.restartBackoffMaxMs ?? 60_000
    this.noGpuRetryMs = o.noGpuRetryMs ?? 60_000
    this.stallMs = o.stallMs ?? Math.max(5 * this.pollMs, 15_000)
    this.discoveryTimeoutMs = o.discoveryTimeoutMs ?? 15_000
    this.stopTimeoutMs = o.stopTimeoutMs ?? 2000
    for (const [name, value] of Object.entries({ pollMs: this.pollMs, historyMs: this.historyMs, stallMs: this.stallMs })) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`GPU telemetry: ${name} must be a positive integer (ms), got ${value}`)
    }
    // One slot per poll plus slack for samples that arrive early or bunched; history() also cuts by time.
    const slots = Math.ceil(this.historyMs / this.pollMs)
    this.ring = new RingBuffer<GpuSample>(slots + Math.ceil(slots / 10) + 8)
    this.backoffMs = this.restartBackoffMs
  }

  /** Starts sampling and, in the background, discovery. Resolves at once; never rejects. */
  async start(): Promise<void> {
    if (this.running) return
    this.running = true
    this.backoffMs = this.restartBackoffMs
    this.setStatus(false, `waiting for the first sample from ${this.bin}`)
    this.spawnSampler()
    this.discover()
  }

  /** Ends the sampler (SIGTERM, then SIGKILL, each bounded by stopTimeoutMs) and the discovery; clears every timer. */
  async stop(): Promise<void> {
    this.running = false
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.retryTimer = null
    this.discovery?.cancel()
    this.discovery = null
    const run = this.run
    this.run = null
    if (run) {
      if (run.stallTimer) clearTimeout(run.stallTimer)
      run.child.kill('SIGTERM')
      if (!(await within(run.closed, this.stopTimeoutMs))) {
        run.child.kill('SIGKILL')
        if (!(await within(run.closed, this.stopTimeoutMs))) this.o.log.error({ pid: run.child.pid }, `${this.bin} did not end after SIGKILL`)
      }
    }
    this.setStatus(false, 'stopped')
  }

  /** The newest sample (however old: see its `at`), or null before the first. */
  current(): GpuSample | null {
    return this.ring.last() ?? null
  }

  /** The samples of the last historyMs, oldest first; with sinceMs, only those taken after it (epoch ms). */
  history(sinceMs?: number): GpuSample[] {
    const from = Date.now() - this.historyMs
    return this.ring.toArray().filter((s) => s.at >= from && (sinceMs === undefined || s.at > sinceMs))
  }

  /** What discovery found; all null until it is done, or when it failed. */
  info(): GpuInfo {
    return { ...this.gpuInfo, cpu: { ...this.gpuInfo.cpu } }
  }

  status(): GpuStatus {
    return { ...this.state }
  }

  /**
   * What the thermal guard should see now: the latest temperature while sampling is live and the sample
   * fresh (younger than stallMs), else null. `at` is now, so a guard fed this while samples have stopped
   * learns that the reading is missing.
   */
  reading(now = Date.now()): ThermalReading {
    const s = this.ring.last()
    const fresh = s !== undefined && this.state.available && now - s.at <= this.stallMs
    return { temperatureC: fresh ? s.temperatureC : null, at: now }
  }

  /** The sampling nvidia-smi's pid while one runs (diagnostics and tests). */
  get pid(): number | null {
    return this.run?.child.pid ?? null
  }

  private spawnSampler(): void {
    this.retryTimer = null
    if (!this.running) return
    const argv = [`--query-gpu=${SAMPLE_FIELDS.join(',')}`, '--format=csv,noheader,nounits', '-lms', String(this.pollMs)]
    let child: ChildProcess
    try {
      child = spawn(this.bin, argv, { env: childEnv(this.o.env), stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true })
    } catch (err) {
      this.afterEnd(null, { error: err as NodeJS.ErrnoException })
      return
    }
    let resolveClosed: () => void = () => undefined
    const run: SamplerRun = {
      child,
      startedAt: Date.now(),
      samples: 0,
      messages: [],
      killedFor: null,
      stallTimer: null,
      closed: new Promise<void>((resolve) => (resolveClosed = resolve)),
    }
    this.run = run
    let ended = false
    const end = (how: RunEnd): void => {
      if (ended) return
      ended = true
      if (run.stallTimer) clearTimeout(run.stallTimer)
      resolveClosed()
      this.afterEnd(run, how)
    }
    child.once('error', (error: NodeJS.ErrnoException) => {
      // A spawn failure (ENOENT, EACCES) has no pid; any other error is followed by 'close'.
      if (child.pid === undefined) end({ error })
    })
    child.once('close', (code, signal) => end({ code, signal }))
    onLines(child.stdout!, (line) => this.onLine(run, line))
    onLines(child.stderr!, (line) => remember(run, line))
    run.stallTimer = setTimeout(() => {
      if (this.run !== run) return
      run.killedFor = `no sample for ${seconds(this.stallMs)}`
      this.o.log.warn({ pid: child.pid }, `${this.bin} stopped reporting: killing it`)
      child.kill('SIGKILL')
    }, this.stallMs)
    run.stallTimer.unref()
  }

  private onLine(run: SamplerRun, line: string): void {
    const parsed = parseSampleLine(line, Date.now())
    if (!parsed) return remember(run, line)
    run.stallTimer?.refresh()
    if (parsed.index !== 0 || this.run !== run) return
    const sample = Object.freeze(parsed.sample)
    this.ring.push(sample)
    run.samples++
    if (!this.state.available) {
      this.setStatus(true, null)
      // No driver when discovery ran: now that there is one, find out what the card is.
      if (this.gpuInfo.driverVersion === null) this.discover()
    }
    if (this.o.onSample) {
      try {
        this.o.onSample(sample)
      } catch (err) {
        this.o.log.error({ err }, 'GPU sample listener failed')
      }
    }
  }

  /** A sampler ended (or could not start): say why and schedule the next attempt. */
  private afterEnd(run: SamplerRun | null, how: RunEnd): void {
    if (!this.running || (run !== null && this.run !== run)) return // stopped: nothing to restart
    this.run = null
    const said = run?.messages.join(' ') ?? ''
    let delay: number
    let reason: string
    if ('error' in how) {
      delay = this.noGpuRetryMs
      reason =
        how.error.code === 'ENOENT'
          ? `no NVIDIA GPU found: ${this.bin} is not installed (not found on PATH)`
          : `no NVIDIA GPU found: could not run ${this.bin}: ${how.error.message}`
      reason += `; checking again every ${seconds(delay)}`
    } else {
      const exit = run?.killedFor ?? (how.signal ? `killed by ${how.signal}` : `exit code ${how.code}`)
      if (run === null || run.samples === 0) {
        // Failing before the first sample is no hiccup: no driver ("couldn't communicate with the NVIDIA
        // driver", exit 9), no device, or no permission. It stays that way until someone fixes it.
        delay = this.noGpuRetryMs
        reason = `${this.bin} failed (${exit})${said ? `: ${said}` : ''}; checking again every ${seconds(delay)}`
      } else {
        if (Date.now() - run.startedAt >= this.restartBackoffMaxMs) this.backoffMs = this.restartBackoffMs
        delay = this.backoffMs
        this.backoffMs = Math.min(this.backoffMs * 2, this.restartBackoffMaxMs)
        reason = `${this.bin} exited (${exit})${said ? `: ${said}` : ''}; restarting in ${seconds(delay)}`
      }
    }
    this.o.log.warn({ pid: run?.child.pid, delayMs: delay }, `GPU telemetry: ${reason}`)
    this.setStatus(false, reason)
    this.retryTimer = setTimeout(() => this.spawnSampler(), delay)
    this.retryTimer.unref()
  }

  private discover(): void {
    if (this.discovery || !this.running) return
    const discovery = discoverSystem({ env: this.o.env, timeoutMs: this.discoveryTimeoutMs })
    this.discovery = discovery
    void discovery.result.then((found) => {
      if (this.discovery !== discovery) return // stopped meanwhile
      this.discovery = null
      if (found instanceof Error) {
        this.o.log.warn({ err: found.message }, 'GPU discovery failed: GPU and CPU details are unknown')
        this.gpuInfo = UNKNOWN_INFO
      } else {
        this.o.log.info({ info: found }, 'GPU discovery done')
        this.gpuInfo = found
      }
      if (this.o.onInfo) {
        try {
          this.o.onInfo(this.info())
        } catch (err) {
          this.o.log.error({ err }, 'GPU info listener failed')
        }
      }
    })
  }

  private setStatus(available: boolean, reason: string | null): void {
    if (this.state.available === available && this.state.reason === reason) return
    this.state = { available, reason }
    if (available) this.o.log.info('GPU telemetry: sampling')
    if (this.o.onStatus) {
      try {
        this.o.onStatus(this.status())
      } catch (err) {
        this.o.log.error({ err }, 'GPU status listener failed')
      }
    }
  }
}

/** Calls `each` with every complete line of a stream; a runaway line without a newline is dropped. */
function onLines(stream: NodeJS.ReadableStream, each: (line: string) => void): void {
  let rest = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n')
    rest = parts.pop() ?? ''
    if (rest.length > MAX_LINE) rest = ''
    for (const part of parts) {
      const line = part.trim()
      if (line !== '') each(line)
    }
  })
}

function remember(run: SamplerRun, line: string): void {
  run.messages.push(line.slice(0, 500))
  if (run.messages.length > MAX_MESSAGES) run.messages.shift()
}

function seconds(ms: number): string {
  return ms % 1000 === 0 || ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`
}

/** True if `p` settles within ms. */
async function within(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  try {
    return await Promise.race([p.then(() => true as const), timeout])
  } finally {
    clearTimeout(timer)
  }
}
