import type { LoadingPhase } from '../contract/engine'

export type { LoadingPhase }

const MARKERS: [RegExp, LoadingPhase][] = [
  [/Application startup complete|^llama\.cpp: server ready on /, 'ready'],
  [/^llama\.cpp: model loaded in /, 'starting API server'],
  [/Starting vLLM API server|init engine \(profile, create kv cache, warmup model\) took/, 'starting API server'],
  [/Capturing CUDA graph/i, 'capturing CUDA graphs'],
  [/Available KV cache memory|GPU KV cache size|Maximum concurrency for/, 'allocating KV cache'],
  [/torch\.compile|Compiling a graph|Dynamo bytecode transform/, 'compiling'],
  [/Loading safetensors checkpoint shards|Loading weights took|Model loading took|Starting to load model|^llama\.cpp: loading model /, 'loading weights'],
]

const ORDER: LoadingPhase[] = [
  'downloading model',
  'starting process',
  'loading weights',
  'compiling',
  'allocating KV cache',
  'capturing CUDA graphs',
  'starting API server',
  'ready',
]

/** The phase a log line announces, if any. */
export function phaseOfLine(line: string): LoadingPhase | null {
  for (const [pattern, phase] of MARKERS) if (pattern.test(line)) return phase
  return null
}

/** Phases only move forward: a late line of an earlier stage does not move the display back. */
export function nextPhase(current: LoadingPhase, line: string): LoadingPhase {
  const seen = phaseOfLine(line)
  if (seen === null) return current
  return ORDER.indexOf(seen) > ORDER.indexOf(current) ? seen : current
}
