import type { BatchObject } from './batches'

/**
 * Why a job waits instead of sending requests. Clients switch on `kind`; `detail` is the sentence a person
 * reads ("waiting for engine: loading qwen3-8b", "paused: GPU 86 °C (pauses at 83 °C, resumes at 75 °C)").
 */
export type HoldKind =
  /** Batches were paused by hand (the tray's or the window's "Pause"). */
  | 'paused'
  /** The GPU runs hot: the thermal guard holds new work until it has cooled down. */
  | 'thermal'
  /** The data dir's disk is full: nothing could be saved; the job goes on once there is room. */
  | 'disk_full'
  /** The job's model is being started, switched to or downloaded. */
  | 'engine_loading'
  /** The engine cannot run the model now (not installed, failed to start, a remote that does not answer). */
  | 'engine_unavailable'
  /** The job's model is no longer in models.yaml. */
  | 'model_missing'
  /** The job stopped on an unexpected error and is tried again after a backoff. */
  | 'error_backoff'
  /** Outside the daily batch hours (VBS_BATCH_HOURS): the job runs once the window opens. */
  | 'quiet_hours'
  /** Batches run only while the desktop is idle (VBS_BATCH_WHEN_IDLE), and it is in use. */
  | 'not_idle'

export interface Hold {
  kind: HoldKind
  detail: string
  /** Epoch ms since when the job has been held for this kind of reason (the detail may change meanwhile). */
  since: number
}

/**
 * What the batch scheduler is doing (`GET /health` runner.state): `idle` (no job), `running` (a job is current:
 * its model loads or it sends), `paused` (paused by hand: no job starts, a current one sends nothing),
 * `stopping` (the service stops; the current job stops at a safe point), `stopped`.
 */
export type SchedulerState = 'stopped' | 'idle' | 'running' | 'paused' | 'stopping'

/** A batch's place in the queue: `metadata.priority` at creation, or `PUT /api/batches/{id}/priority`. */
export const BATCH_PRIORITIES = ['high', 'normal', 'low'] as const
export type BatchPriority = (typeof BATCH_PRIORITIES)[number]

/**
 * The rule that put a queued job where it is (main/batch/queue-order.ts): `priority` (high before normal before
 * low), `overdue` (it waited past VBS_MAX_QUEUE_WAIT_MINUTES, so jobs whose model is loaded no longer go first),
 * `warm` (its model is loaded: it runs without a swap), `arrival` (first come, first served), `comparison` (the
 * arms of a comparison run one after another: it follows the arm before it, or waits for it).
 */
export type QueueReason = 'priority' | 'overdue' | 'warm' | 'arrival' | 'comparison'

/** Where a queued job stands: `GET /api/batches[/{id}]` `queue`, null for the running job and ended ones. */
export interface QueuePlace {
  /** 1 = runs next. */
  position: number
  reason: QueueReason
  /** The sentence a person reads ("its model test-model-a is loaded: runs without a model swap"). */
  detail: string
  /** Seconds until it starts, from the rates of the jobs before it; null when one of them has no rate yet. */
  eta_seconds: number | null
}

/**
 * The in-flight window of the running job under the GPU power cap (VBS_GPU_POWER_LIMIT_W): it narrows while
 * the GPU draws more than the cap and widens again below it.
 */
export interface PowerWindow {
  /** The cap in watts; null when there is none. */
  cap_w: number | null
  /** The GPU's latest draw in watts, or null without a reading. */
  draw_w: number | null
  /** Requests the running job may have in flight now. */
  window: number
  /** Its concurrency without the cap. */
  max_window: number
}

/** The daily schedule of batch work (`GET /api/batches` `schedule`, `POST|DELETE /api/batches/run-now`). */
export interface ScheduleState {
  /** Whether batches may run now by the schedule (hours, idle-only, or the run-now override). */
  open: boolean
  /** Why not, while closed: the hold its jobs show. */
  hold: { kind: HoldKind; detail: string } | null
  /** The daily window (`22:00-07:00`, local time); '' = always. */
  batch_hours: string
  when_idle: boolean
  /** Epoch ms the window next opens, while closed by the hours; null otherwise. */
  next_start: number | null
  /** "Run now anyway": epoch ms until which the schedule is ignored (the next opening of the window), or null. */
  run_now_until: number | null
  /** Whether "run now anyway" is on (with idle-only and no hours it lasts until the desktop is next idle). */
  run_now: boolean
  /** The power cap and the running job's window, or null when no job runs. */
  power: PowerWindow | null
}

/** What the window and the API show of a running batch. */
export interface BatchProgress {
  chunk: number
  chunks: number
  completed: number
  failed: number
  total: number
  requestsPerSecond: number
  tokensPerSecond: number
  etaSeconds: number | null
  /** Why nothing is being sent right now, or null while it runs. */
  hold: Hold | null
  updatedAt: number
  /** The in-flight window under the power cap (absent from progress stored by older versions). */
  power?: PowerWindow
}

/** A batch as `GET /api/batches[/{id}]` shows it: the OpenAI object plus why it waits and how far it is. */
export interface Job extends BatchObject {
  /** What the status is busy with (`writing the output files` while finalizing), or null. */
  status_detail: string | null
  /** Why the job waits, or null. */
  hold: Hold | null
  progress: BatchProgress | null
  /** Whether this is the job the scheduler runs now. */
  running: boolean
  /** Its priority (absent only from services older than priorities). */
  priority?: BatchPriority
  /** Where it stands in the queue while it waits to run; null when it runs, validates or has ended. */
  queue?: QueuePlace | null
}

/** `GET /api/batches`: newest first. */
export interface JobPage {
  object: 'list'
  data: Job[]
  has_more: boolean
  /** Whether batches are paused by hand. */
  paused: boolean
  /** Batch hours, idle-only and the power window (absent from services older than them). */
  schedule?: ScheduleState
}

/** `PUT /api/batches/{id}/priority`. */
export interface PriorityChange {
  priority: BatchPriority
}

/** One dead letter of `GET /api/batches/{id}/failed`: a request that failed for good, kept for a retry. */
export interface DeadLetter {
  custom_id: string
  /** 1-based line of the input file. */
  line: number
  error_type: string
  message: string
  attempts: number
  failed_at: number
}

export interface DeadLetterPage {
  object: 'list'
  data: DeadLetter[]
  has_more: boolean
}

/** `POST /api/batches/pause` and `/resume`. */
export interface PauseState {
  paused: boolean
}
