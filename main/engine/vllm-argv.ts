import type { ModelEntry } from '../config/models'

/** What the supervisor decides for one launch, besides the registry entry. */
export interface LaunchPlan {
  host: string
  port: number
  /** Adds --enable-sleep-mode (and the dev-mode env its HTTP endpoints need). */
  sleepMode: boolean
}

/**
 * The argv of `vllm serve` for a registry entry: an array, never shell text, so values from models.yaml
 * cannot become commands. Pure: the same entry and plan always give the same argv.
 */
export function vllmArgv(entry: ModelEntry, plan: LaunchPlan): string[] {
  const argv = [
    'serve',
    entry.model,
    '--host',
    plan.host,
    '--port',
    String(plan.port),
    '--served-model-name',
    entry.id,
    // Interactive requests must overtake batch requests: vLLM orders its queue by (priority, arrival).
    '--scheduling-policy',
    'priority',
  ]
  if (entry.max_model_len !== undefined) argv.push('--max-model-len', String(entry.max_model_len))
  if (entry.gpu_memory_utilization !== undefined) {
    argv.push('--gpu-memory-utilization', String(entry.gpu_memory_utilization))
  }
  if (entry.quantization !== undefined) argv.push('--quantization', entry.quantization)
  if (entry.dtype !== undefined) argv.push('--dtype', entry.dtype)
  if (entry.max_num_seqs !== undefined) argv.push('--max-num-seqs', String(entry.max_num_seqs))
  if (plan.sleepMode) argv.push('--enable-sleep-mode')
  argv.push(...(entry.extra_args ?? []))
  return argv
}

/** The environment of the engine: ours, the entry's extras, and what sleep mode needs. */
export function vllmEnv(entry: ModelEntry, plan: LaunchPlan, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, ...(entry.env ?? {}) }
  if (plan.sleepMode) env.VLLM_SERVER_DEV_MODE = '1'
  // vLLM buffers its log otherwise, and the loading phase is read from it as it comes.
  env.PYTHONUNBUFFERED = '1'
  return env
}
