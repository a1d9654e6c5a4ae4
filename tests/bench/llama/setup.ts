import type { ServiceFlags } from '../args'
import { f } from '../bench-util'
import { bench, type Service } from '../launcher'
import { TINY_GGUF_WORDS, type TinyGgufOptions } from '../../helpers/tiny-gguf'
import { prng } from '../../helpers/prng'
import { profileHook } from './profiling'

/** What the llama-throughput scenarios share: options, the workload, the service with its llama.cpp child, medians. */

export const MODEL_ID = 'bench-llama'
export const ENDPOINT = '/v1/chat/completions'
/** The context of each of the P sequences, in the service's engine and in the direct runs alike. */
export const CONTEXT_SIZE = 2048

/** Model presets (writeTinyGguf options). tiny is the tests' default. */
export const PRESETS: Record<string, TinyGgufOptions> = {
  tiny: {},
  small: { embeddingLength: 256, blockCount: 4, headCount: 8, headCountKv: 4, feedForwardLength: 768 },
  medium: { embeddingLength: 512, blockCount: 8, headCount: 8, headCountKv: 4, feedForwardLength: 1408 },
}
export const DEFAULT_PRESET = 'small'

export type Part = 'a' | 'b' | 'c'

export interface Options extends ServiceFlags {
  parallel: number
  rounds: number
  /** Each measurement this many times per round, interleaved; the round keeps the median. */
  repeat: number
  modelName: string
  model: TinyGgufOptions
  only: Part[]
}

// ---------------------------------------------------------------------------------------------------
// Medians
// ---------------------------------------------------------------------------------------------------

export function median(xs: readonly number[]): number {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** "median (min–max)" of a series. */
export function mr(xs: readonly number[], digits = 0): string {
  const s = xs.filter(Number.isFinite)
  if (s.length === 0) return 'n/a'
  if (s.length === 1) return f(s[0], digits)
  return `${f(median(s), digits)} (${f(Math.min(...s), digits)}–${f(Math.max(...s), digits)})`
}

/** The element whose tokens/s is the median of the repeats (the lower middle one for an even count). */
export function medianOf<T extends { tps: number }>(xs: readonly T[]): T | null {
  if (xs.length === 0) return null
  return [...xs].sort((a, b) => a.tps - b.tps)[(xs.length - 1) >> 1]
}

/** The values of the rounds that have a figure. */
export const col = <T>(xs: (T | null)[], g: (x: T) => number): number[] => xs.filter((x): x is T => x !== null).map(g)

// ---------------------------------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------------------------------

/** (a) and (b): a batch of 64 requests of 32 tokens; (c): 8 requests of 128 tokens, one at a time. */
export const BATCH_REQUESTS = 64
export const BATCH_TOKENS = 32
export const SINGLE_REQUESTS = 8
export const SINGLE_TOKENS = 128

/** The 64 prompts (seeded: the same every run), ~10-20 words each. */
export function makePrompts(n: number): string[] {
  const rand = prng(7)
  const pick = (): string => TINY_GGUF_WORDS[Math.floor(rand() * TINY_GGUF_WORDS.length)]
  const out: string[] = []
  for (let i = 1; i <= n; i++) {
    const words = Array.from({ length: 6 + Math.floor(rand() * 10) }, pick).join(' ')
    out.push(`question ${i}: tell me a short story about the ${pick()} and the ${pick()}, ${words}`)
  }
  return out
}

export function batchInput(prompts: readonly string[]): string {
  return prompts
    .map((content, i) =>
      JSON.stringify({ custom_id: `q-${i + 1}`, method: 'POST', url: ENDPOINT, body: { model: MODEL_ID, messages: [{ role: 'user', content }], temperature: 0, max_tokens: BATCH_TOKENS } }),
    )
    .join('\n')
    .concat('\n')
}

// ---------------------------------------------------------------------------------------------------
// The service under test
// ---------------------------------------------------------------------------------------------------

function modelsYaml(modelFile: string, o: Options): string {
  return [
    `default: ${MODEL_ID}`,
    'models:',
    `  - id: ${MODEL_ID}`,
    '    engine: llama.cpp',
    `    model: ${JSON.stringify(modelFile)}`,
    `    parallel: ${o.parallel}`,
    '    threads: 1',
    '    gpu_layers: 0',
    `    context_size: ${CONTEXT_SIZE}`,
    '',
  ].join('\n')
}

/**
 * The service as `npm run serve` runs it, VBS_MODELS naming one llama.cpp model (`parallel: P`, `threads: 1`,
 * `gpu_layers: 0`) and VBS_VLLM_BIN pointing at nothing; with --cpu-prof, the profiling preload in
 * NODE_OPTIONS (its engine child inherits it).
 */
export function startService(modelFile: string, o: Options): Promise<Service> {
  const dataDir = bench.tempDir('vbs-bench-llama-data-')
  return bench.start({
    dataDir,
    models: modelsYaml(modelFile, o),
    outputDir: o.outputDir,
    env: {
      VBS_VLLM_BIN: `${dataDir}/no-vllm-here`,
      VBS_LOG_LEVEL: 'warn',
      ...(o.cpuProfDir ? { NODE_OPTIONS: `--require ${profileHook(o.cpuProfDir)}` } : {}),
      ...o.env,
    },
  })
}

const READY_TIMEOUT_MS = 120_000

/** Loads the model (POST /api/engine/start, GET /api/engine until ready); the load time on the service's clock. */
export async function loadEngine(service: Service): Promise<number | null> {
  const engine = await service.startEngine(MODEL_ID, 100, READY_TIMEOUT_MS)
  return engine.readyAt !== null && engine.startedAt !== null ? engine.readyAt - engine.startedAt : null
}
