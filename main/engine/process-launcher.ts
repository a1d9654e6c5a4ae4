import type { EngineKind, ModelEntry } from '../config/models'

/** What the supervisor hands a launcher for one start. */
export interface LaunchContext {
  host: string
  port: number
  /** Aborted when the start is stopped (a download under way ends, and resumes next time). */
  signal: AbortSignal
  /** Called when a model file must be fetched before the process can start (the status says so). */
  downloading: () => void
  /**
   * The fresh random key of this launch: the engine must refuse /v1 requests without it. It goes to the
   * process by its environment (argv is readable by every local user in /proc/<pid>/cmdline, and is logged).
   */
  apiKey: string
}

/** The process to run: an argv array (never shell text), its environment, and whether it uses the GPU. */
export interface LaunchCommand {
  bin: string
  argv: string[]
  env: NodeJS.ProcessEnv
  /** Working directory (default: the service's). */
  cwd?: string
}

/**
 * How one kind of supervised engine is started: vLLM's `vllm serve`, or our llama.cpp child. The supervisor
 * does the rest the same for both (process group, engine.log, readiness by /health, restarts, pidfile).
 */
export interface ProcessLauncher {
  readonly kind: Exclude<EngineKind, 'remote'>
  /** How the engine is named in messages ("vLLM exited while loading ..."). */
  readonly label: string
  /** Throws an EngineError ('not_found') naming where it looked and what to do, when the engine cannot run here. */
  check(entry: ModelEntry): void
  /** Everything a start needs first (a model download), then the command. Rejects with an EngineError. */
  prepare(entry: ModelEntry, ctx: LaunchContext): Promise<LaunchCommand>
  /** Requests a batch keeps in flight by default. */
  batchConcurrency(entry: ModelEntry): number
  /** Host RAM (GiB) the model holds while asleep in the warm pool; null when there is no estimate. */
  ramEstimateGb(entry: ModelEntry): number | null
  /**
   * Puts a ready engine to sleep (its GPU memory freed, its weights kept in host RAM) and wakes it again; each
   * resolves once done, or rejects (within `timeoutMs`). Absent where the engine has no sleep mode: our
   * llama.cpp child simply stays loaded and idle.
   */
  sleep?(at: EngineAddress, timeoutMs: number): Promise<void>
  wake?(at: EngineAddress, timeoutMs: number): Promise<void>
}

/** Where a launched engine listens, and the key it answers to. */
export interface EngineAddress {
  port: number
  apiKey: string
}

/** Where the engine's OpenAI server listens and the name it serves the model as: vLLM and our llama.cpp server take the same flags. */
export function servingArgs(servedName: string, host: string, port: number): string[] {
  return ['--host', host, '--port', String(port), '--served-model-name', servedName]
}
