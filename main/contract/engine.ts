/** The engine as clients see it: `GET /api/engine`, the `engine.state` and `model.download` events. */

/** Which kind of engine runs a model: vLLM (supervised), our llama.cpp child, or a remote OpenAI-compatible server. */
export type EngineKind = 'vllm' | 'llama.cpp' | 'remote'
export const ENGINE_KINDS: readonly EngineKind[] = ['vllm', 'llama.cpp', 'remote']

/** The engine's lifecycle. */
export const ENGINE_STATES = ['stopped', 'starting', 'ready', 'stopping', 'failed'] as const
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
}

/** `GET /api/engine`: the status, the model a start without one loads, every download, and models.yaml's state. */
export interface EngineView extends EngineStatus {
  defaultModel: string | null
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
