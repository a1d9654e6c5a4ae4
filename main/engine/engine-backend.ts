import type { ModelEntry } from '../config/models'
import type { EngineError, EngineKind, EngineState, EngineStatus, WarmEngine } from './engine-types'

/** Where requests for the running model go, and how. */
export interface EngineTarget {
  /** The full URL of an OpenAI path such as `/v1/chat/completions`. */
  url(path: string): string
  /** Headers every request carries (a remote engine's key; nothing for our own children). */
  headers: Readonly<Record<string, string>>
  /** The name the engine knows the model by: what the request body's `model` becomes. */
  served: string
  /** Whether the engine orders its queue by the body's `priority` (interactive before batch). */
  priority: boolean
  /** Whether the model's registry entry lets `prompt_embeds` through (see request-policy.ts). */
  allowPromptEmbeds: boolean
}

/** What a kind of engine can do for a model. */
export interface EngineCapabilities {
  embeddings: boolean
  priority: boolean
  /** Requests a batch keeps in flight by default (VBS_BATCH_CONCURRENCY overrides it). */
  batchConcurrency: number
}

/**
 * One kind of engine, as the Engine facade drives it: a small state machine (stopped, starting, ready,
 * stopping, failed) with a start that resolves once the model serves, a stop, a status and a target for
 * requests. The process kinds (vLLM, llama.cpp) share the supervisor; remote servers are probed.
 */
export interface EngineBackend {
  readonly currentState: EngineState
  /** Registry id of the model running, loading or last failed. */
  readonly model: string | null
  /** Why it is not serving (a failure, a restart, an outage), for the user; null when nothing is wrong. */
  readonly lastError: string | null
  /** Whether this backend runs models of that kind. */
  handles(kind: EngineKind): boolean
  status(): EngineStatus
  /** Where requests go while `ready`, else null. */
  target(): EngineTarget | null
  capabilities(entry: ModelEntry): EngineCapabilities
  /** Throws the EngineError that would stop `entry` from starting at all (vLLM not installed, a key missing). */
  check(entry: ModelEntry): void
  /** Notes in the status that the engine cannot run (see check()). */
  markUnavailable(err: EngineError): void
  /** Starts `entry` and resolves once it serves; rejects with an EngineError otherwise. */
  start(entry: ModelEntry): Promise<void>
  stop(reason?: string): Promise<void>
  /** Resolves when a start or restart under way is done. */
  whenSettled(): Promise<void>
  /** The last failure while the backend is `failed`. */
  lastFailure(): { model: string; at: number; error: EngineError } | null
  /** Why requests must be refused at once right now (a remote that stopped answering), else null. */
  outage(): string | null
  /** A request to the running model could not connect: the backend checks at once rather than at its next poll. */
  suspect(reason: string): void
  /** Stops serving for a switch to another backend, keeping the model warm where it can (default: stop). */
  release?(reason: string): Promise<void>
  /** The engines it keeps warm for fast switches (the warm pool), the most recently used first. */
  warm?(): WarmEngine[]
}
