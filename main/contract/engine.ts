/** The engine as clients see it: `GET /api/engine`, the `engine.state` and `model.download` events. */

/** Which kind of engine runs a model: vLLM (supervised), our llama.cpp child, or a remote OpenAI-compatible server. */
export type EngineKind = 'vllm' | 'llama.cpp' | 'remote'
export const ENGINE_KINDS: readonly EngineKind[] = ['vllm', 'llama.cpp', 'remote']

/**
 * The engine's lifecycle. `sleeping`: parked in the warm pool, not serving (vLLM's sleep mode keeps its weights
 * in host RAM; a llama.cpp child stays loaded); `waking`: on its way back to `ready` without a new process.
 */
export const ENGINE_STATES = ['stopped', 'starting', 'ready', 'sleeping', 'waking', 'stopping', 'failed'] as const
export type EngineState = (typeof ENGINE_STATES)[number]

/** The stages of an engine start-up, in order, as the window shows them. */
export type LoadingPhase =
  | 'downloading model'
  | 'starting process'
  | 'loading weights'
  | 'compiling'
  | 'allocating KV cache'
  | 'capturing CUDA graphs'
  | 'starting API server'
  | 'ready'

/** A model file being fetched into `<data>/models/` (an `hf:` model the first time it is needed). */
export interface DownloadProgress {
  /** Registry id of the model. */
  model: string
  /** Where the file goes once complete. */
  file: string
  url: string
  receivedBytes: number
  /** From the server's Content-Length / Content-Range; null while unknown. */
  totalBytes: number | null
  bytesPerSecond: number
  etaSeconds: number | null
  state: 'downloading' | 'done' | 'failed'
  error: string | null
}

/** What the engine is doing; `POST /api/engine/{start,switch,stop}` answer it too. */
export interface EngineStatus {
  /** Which kind of engine this is (vLLM, our llama.cpp child, a remote server). */
  kind: EngineKind
  state: EngineState
  /** Registry id of the model running, loading or last failed. */
  model: string | null
  pid: number | null
  port: number | null
  phase: LoadingPhase | null
  startedAt: number | null
  readyAt: number | null
  uptimeS: number | null
  lastError: string | null
  /** Restarts after crashes in the current window. */
  restarts: number
  logTail: string[]
  /** The model file being downloaded before the start (an `hf:` GGUF), if any. */
  download: DownloadProgress | null
  /** Where a remote engine is (its base URL; never its key). */
  remoteUrl: string | null
  /**
   * Every engine process kept for a fast switch: the awake one (ready, starting, waking) first, then those asleep,
   * the most recently used first. Empty when none runs.
   */
  pool: WarmEngine[]
}

/** One engine of the warm pool (models with `sleep: true` in models.yaml). */
export interface WarmEngine {
  /** Registry id of its model. */
  model: string
  kind: EngineKind
  state: EngineState
  /** Host RAM it takes while asleep, in GiB (its estimate: vram_gb, or a llama.cpp model's file); null when unknown. */
  ramGb: number | null
  pid: number | null
  port: number | null
  /** When it last served or was switched to (ms since the epoch): the pool stops the least recent first. */
  lastUsedAt: number
}

/** `GET /api/engine`: the status, the model a start without one loads, every download, and models.yaml's state. */
export interface EngineView extends EngineStatus {
  defaultModel: string | null
  /** VBS_WARM_POOL_GB: host RAM the sleeping engines may hold together, in GiB. */
  warmPoolGb: number
  downloads: DownloadProgress[]
  registry: { path: string; error: string | null }
}

/** `POST /api/models/{id}/download`: 200 when the file is here already, 202 while it downloads. */
export interface ModelDownloadStart {
  model: string
  file: string
  downloaded: boolean
  progress: DownloadProgress | null
}
