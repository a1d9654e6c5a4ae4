import type { ModelEntry } from '../config/models'
import { childEnv, HF_TOKEN_VARS } from './child-env'
import { servingArgs } from './process-launcher'

/** What the supervisor decides for one launch, besides the registry entry. */
export interface LaunchPlan {
  host: string
  port: number
  /** Adds --enable-sleep-mode (and the dev-mode env its HTTP endpoints need). */
  sleepMode: boolean
  /**
   * Hosts `image_url`/`video_url`/`audio_url` parts may be fetched from: [] (the default) none, null any
   * (vLLM's own default). See mediaDomains().
   */
  mediaDomains?: readonly string[] | null
  /** The key this launch answers to: set as VLLM_API_KEY in its environment, never in argv. */
  apiKey?: string
}

/**
 * What `--allowed-media-domains` gets when no host may be fetched from. vLLM checks
 * `if allowed_media_domains and hostname not in allowed_media_domains` (vllm/multimodal/utils.py,
 * MediaConnector), so an empty list allows every host, and `--allowed-media-domains ""` is not a list it
 * accepts; one name that can never resolve (RFC 6761 reserves `.invalid`) allows none.
 */
export const NO_MEDIA_DOMAIN = 'media-fetching-disabled.invalid'

const HOST = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/

/**
 * The hosts of VBS_ALLOWED_MEDIA_DOMAINS (comma-separated host names; '' none, '*' any = null), lower-cased
 * as vLLM compares them with the URL's host name. Throws an Error naming a value that is not a host name.
 */
export function mediaDomains(setting: string): string[] | null {
  const names = setting
    .split(',')
    .map((n) => n.trim().toLowerCase())
    .filter(Boolean)
  if (names.length === 1 && names[0] === '*') return null
  for (const name of names) {
    if (name.length > 253 || !HOST.test(name)) {
      throw new Error(
        `VBS_ALLOWED_MEDIA_DOMAINS: '${name.slice(0, 80)}' is not a host name; list host names such as images.example.com, ` +
          'comma-separated, with no scheme, port or path (or * for any host)',
      )
    }
  }
  return [...new Set(names)]
}

/**
 * The argv of `vllm serve` for a registry entry: an array, never shell text, so values from models.yaml
 * cannot become commands. Pure: the same entry and plan always give the same argv.
 */
export function vllmArgv(entry: ModelEntry, plan: LaunchPlan): string[] {
  const argv = [
    'serve',
    entry.model,
    ...servingArgs(entry.id, plan.host, plan.port),
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
  // A request must not make the engine fetch URLs from the workstation's network (SSRF).
  const domains = plan.mediaDomains === undefined ? [] : plan.mediaDomains
  if (domains !== null) argv.push('--allowed-media-domains', ...(domains.length > 0 ? domains : [NO_MEDIA_DOMAIN]))
  if (entry.allow_prompt_embeds === true) argv.push('--enable-prompt-embeds')
  argv.push(...(entry.extra_args ?? []))
  return argv
}

/**
 * The environment of the engine: ours without our secrets (the Hugging Face token stays: vLLM downloads
 * gated models itself), the entry's extras, what sleep mode needs, and the launch's key.
 */
export function vllmEnv(entry: ModelEntry, plan: LaunchPlan, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...childEnv(base, { keep: HF_TOKEN_VARS }),
    // An allowed media host must not redirect the engine to one that is not.
    VLLM_MEDIA_URL_ALLOW_REDIRECTS: '0',
    ...(entry.env ?? {}),
  }
  if (plan.sleepMode) env.VLLM_SERVER_DEV_MODE = '1'
  // vLLM buffers its log otherwise, and the loading phase is read from it as it comes.
  env.PYTHONUNBUFFERED = '1'
  // Last, so neither the entry nor our own environment can replace it: only the proxy and the runner send it.
  if (plan.apiKey) env.VLLM_API_KEY = plan.apiKey
  else delete env.VLLM_API_KEY
  return env
}

/** Why an entry's extra_args would break the launch, or null. */
export function extraArgsProblem(entry: ModelEntry): string | null {
  const args = entry.extra_args ?? []
  if (args.some((a) => a === '--api-key' || a.startsWith('--api-key=') || a === '--api_key' || a.startsWith('--api_key='))) {
    return `${entry.id}: extra_args must not set --api-key: the service starts vLLM with a key of its own and would be refused by it`
  }
  return null
}
