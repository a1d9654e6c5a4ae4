// Reads the tray's snapshot off the service. Pure (no Electron): the Service satisfies TraySource structurally,
// and a test hands in a plain object.
import type { EngineKind, EngineState } from '../engine/engine-types'
import type { TraySnapshot } from './tray-menu'

/** The parts of the service the tray reads. */
export interface TraySource {
  engine: {
    /** With the warm pool: every engine kept for a fast switch, and its state. */
    status(): TraySnapshot['engine'] & { pool: readonly { model: string; state: EngineState }[] }
    /** The model a start without a name runs (the registry's default, or its embedded one without vLLM). */
    defaultModel(): string | null
  }
  models: { readonly models: readonly { id: string; engine: EngineKind }[] }
  scheduler: {
    readonly paused: boolean
    readonly runningBatch: string | null
    progressOf(id: string): { completed: number; failed: number; total: number; hold: { detail: string } | null } | null
    scheduleState(): { hold: { detail: string } | null; run_now: boolean }
  }
  thermal: { readonly paused: boolean; readonly reason: string | null }
  gpu: { current(): { temperatureC: number | null; at: number } | null }
  settings: { readonly startAtLogin: boolean }
  lockedSettings(): { startAtLogin?: string }
}

/** A GPU reading older than this is not shown (the sampler stopped; the dashboard says why). */
export const GPU_SAMPLE_STALE_MS = 30_000

export function traySnapshot(source: TraySource, now = Date.now()): TraySnapshot {
  const sample = source.gpu.current()
  const e = source.engine.status()
  const running = source.scheduler.runningBatch
  const progress = running ? source.scheduler.progressOf(running) : null
  return {
    engine: {
      kind: e.kind,
      state: e.state,
      model: e.model,
      phase: e.phase,
      lastError: e.lastError,
      inFlight: e.inFlight,
      leasedBy: e.leasedBy,
      download: e.download ? { receivedBytes: e.download.receivedBytes, totalBytes: e.download.totalBytes, etaSeconds: e.download.etaSeconds } : null,
    },
    models: source.models.models.map((m) => m.id),
    asleep: e.pool.filter((w) => w.state === 'sleeping').map((w) => w.model),
    kinds: Object.fromEntries(source.models.models.map((m) => [m.id, m.engine])),
    defaultModel: source.engine.defaultModel(),
    batch: running
      ? {
          id: running,
          done: progress ? progress.completed + progress.failed : 0,
          total: progress?.total ?? 0,
          waiting: progress?.hold?.detail ?? null,
        }
      : null,
    batchesPaused: source.scheduler.paused,
    schedule: (() => {
      const schedule = source.scheduler.scheduleState()
      return { held: schedule.hold?.detail ?? null, runNow: schedule.run_now }
    })(),
    thermal: { paused: source.thermal.paused, reason: source.thermal.reason },
    gpuTemperatureC: sample && now - sample.at <= GPU_SAMPLE_STALE_MS ? sample.temperatureC : null,
    startAtLogin: source.settings.startAtLogin,
    startAtLoginLockedBy: source.lockedSettings().startAtLogin ?? null,
  }
}
