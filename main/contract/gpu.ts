/** The GPU as clients see it: `GET /api/gpu` and the `gpu.sample`, `gpu.status` and `thermal` events. */

/** The machine, found once at start: nvidia-smi, then lspci and /proc for what it does not say. */
export interface GpuInfo {
  name: string | null
  driverVersion: string | null
  vramTotalMiB: number | null
  /** As nvidia-smi spells it (`00000000:01:00.0`), or lspci's `01:00.0` when nvidia-smi did not answer. */
  pciBusId: string | null
  cpu: { brand: string | null; cores: number | null }
  memoryTotalBytes: number | null
}

/** One reading of GPU 0. A field is null when the card does not report it (`[N/A]`, `[Not Supported]`). */
export interface GpuSample {
  /** Epoch ms when the line arrived. */
  at: number
  temperatureC: number | null
  memoryUsedMiB: number | null
  memoryTotalMiB: number | null
  utilizationPct: number | null
  powerW: number | null
  powerLimitW: number | null
  fanPct: number | null
}

export interface GpuStatus {
  available: boolean
  /** Why there are no live samples (and what happens next); null while available. */
  reason: string | null
}

/** What the thermal guard decided on a reading (the `thermal` event). */
export interface ThermalDecision {
  paused: boolean
  /** True when this update paused or resumed (the reason's words may change without it). */
  changed: boolean
  /** Why the guard is paused, for a job's hold and the dashboard; null while not paused. */
  reason: string | null
}

export interface ThermalView {
  paused: boolean
  reason: string | null
  pause_c: number
  resume_c: number
}

/** `GET /api/gpu[?since=ms]`. */
export interface GpuView {
  status: GpuStatus
  info: GpuInfo
  current: GpuSample | null
  history: GpuSample[]
  thermal: ThermalView
}
