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
}

/** `GET /api/batches`: newest first. */
export interface JobPage {
  object: 'list'
  data: Job[]
  has_more: boolean
  /** Whether batches are paused by hand. */
  paused: boolean
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
