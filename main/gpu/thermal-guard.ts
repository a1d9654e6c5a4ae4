import type { ThermalDecision } from '../contract/gpu'

export type { ThermalDecision }

export interface ThermalGuardOptions {
  /** At or above this temperature (°C) the guard pauses. Default 83. */
  pauseC?: number
  /** A paused guard resumes at or below this temperature (°C); must be below pauseC. Default 75. */
  resumeC?: number
  /**
   * How long (ms) a paused guard may go without a reading before its reason says the reading is missing.
   * It only changes the words: a paused guard never resumes without a cool reading. Default 30000.
   */
  staleMs?: number
}

/** One observation: the GPU temperature at `at` (epoch ms), or null when there was no reading to be had. */
export interface ThermalReading {
  temperatureC: number | null
  at: number
}


/**
 * Pauses batch work while the GPU runs hot, with hysteresis so it does not flap around one threshold:
 * it pauses at or above `pauseC` and resumes only at or below `resumeC`. Pure: no timers, no I/O; the
 * caller feeds it readings (each telemetry sample, and `GpuTelemetry.reading()` when samples may have
 * stopped) and acts on the decision.
 *
 * A missing reading (null: no GPU, nvidia-smi gone or restarting) never changes the state:
 * - not paused: it stays running. A machine without readings must not stop its batches for want of a
 *   thermometer; the guard only acts on evidence of heat.
 * - paused: it stays paused, however long the readings are missing (after `staleMs` the reason says so).
 *   The card was last seen too hot, and the readings often vanish for the very reason the card is in
 *   trouble (a driver that stops answering under thermal stress). Resuming full load blind could cook it;
 *   staying paused costs only throughput, and the reason tells the user what is going on.
 * A reading older than the last one seen (out of order) is ignored.
 */
export class ThermalGuard {
  private pause: number
  private resume: number
  readonly staleMs: number
  private isPaused = false
  private why: string | null = null
  private lastAt = Number.NEGATIVE_INFINITY
  private lastTemperatureC: number | null = null
  private lastReadingAt: number | null = null

  constructor(options: ThermalGuardOptions = {}) {
    this.staleMs = options.staleMs ?? 30_000
    if (!Number.isFinite(this.staleMs)) throw new RangeError(`thermal guard: staleMs must be a finite number, got ${this.staleMs}`)
    if (this.staleMs < 0) throw new RangeError(`thermal guard: staleMs must not be negative, got ${this.staleMs}`)
    ;[this.pause, this.resume] = checkThresholds(options.pauseC ?? 83, options.resumeC ?? 75)
  }

  get pauseC(): number {
    return this.pause
  }

  get resumeC(): number {
    return this.resume
  }

  /** New thresholds (settings changed); they apply from the next reading. */
  setThresholds(pauseC: number, resumeC: number): void {
    ;[this.pause, this.resume] = checkThresholds(pauseC, resumeC)
  }

  get paused(): boolean {
    return this.isPaused
  }

  get reason(): string | null {
    return this.why
  }

  update(sample: ThermalReading): ThermalDecision {
    if (sample.at < this.lastAt) return this.decision(false)
    this.lastAt = sample.at
    const t = sample.temperatureC
    if (t === null || !Number.isFinite(t)) {
      if (this.isPaused && this.lastReadingAt !== null && sample.at - this.lastReadingAt > this.staleMs) {
        const forS = Math.round((sample.at - this.lastReadingAt) / 1000)
        this.why =
          `paused: no GPU temperature reading for ${forS} s (last ${formatC(this.lastTemperatureC)}); ` +
          `resumes once a reading is at or below ${formatC(this.resumeC)}`
      }
      return this.decision(false)
    }
    this.lastTemperatureC = t
    this.lastReadingAt = sample.at
    const was = this.isPaused
    if (!was && t >= this.pauseC) this.isPaused = true
    else if (was && t <= this.resumeC) this.isPaused = false
    this.why = this.isPaused ? `paused: GPU ${formatC(t)} (pauses at ${formatC(this.pauseC)}, resumes at ${formatC(this.resumeC)})` : null
    return this.decision(was !== this.isPaused)
  }

  private decision(changed: boolean): ThermalDecision {
    return { paused: this.isPaused, changed, reason: this.why }
  }
}

function formatC(c: number | null): string {
  return c === null ? 'unknown' : `${Math.round(c * 10) / 10} °C`
}

function checkThresholds(pauseC: number, resumeC: number): [number, number] {
  for (const [name, value] of [['pauseC', pauseC], ['resumeC', resumeC]] as const) {
    if (!Number.isFinite(value)) throw new RangeError(`thermal guard: ${name} must be a finite number, got ${value}`)
  }
  if (resumeC >= pauseC) {
    throw new RangeError(
      `thermal guard: the resume temperature (${resumeC} °C) must be below the pause temperature (${pauseC} °C), ` +
        'or the guard would pause and resume around one value',
    )
  }
  return [pauseC, resumeC]
}
