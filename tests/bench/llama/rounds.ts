import { delay } from '../bench-util'
import { bench } from '../launcher'
import { directRequest, disposeDirect, loadDirect } from './direct'
import { measureDirectBatches, NO_DIRECT_BATCH, type DirectBatchRound } from './direct-batch'
import { measureServiceBatches, NO_SERVICE_BATCH, type ServiceBatchRound } from './service-batch'
import { BATCH_TOKENS, loadEngine, MODEL_ID, SINGLE_TOKENS, startService, type Options } from './setup'
import { measureDirectSingles, measureServiceSingles, NO_DIRECT_SINGLE, NO_SERVICE_SINGLE, warmSinglePaths, type DirectSingleRound, type ServiceSingleRound } from './single-stream'

/**
 * A round: the service's side ((a) and (c) on one service, one model load) and the direct side ((b) and (c)
 * on one model loaded in this process), never overlapping: the service and its engine are stopped before a
 * direct run, and the direct model is disposed of before the service starts.
 */

export type ServiceRound = { loadMs: number | null } & ServiceBatchRound & ServiceSingleRound
export type DirectRound = { loadMs: number } & DirectBatchRound & DirectSingleRound

export const NO_SERVICE_ROUND: ServiceRound = { loadMs: null, ...NO_SERVICE_BATCH, ...NO_SERVICE_SINGLE }
export const NO_DIRECT_ROUND: DirectRound = { loadMs: NaN, ...NO_DIRECT_BATCH, ...NO_DIRECT_SINGLE }

export async function serviceRound(modelFile: string, inputFile: string, prompts: readonly string[], singlePrompts: readonly string[], o: Options, round: number): Promise<ServiceRound> {
  bench.step = 'starting the service'
  const service = await startService(modelFile, o)
  try {
    bench.step = 'loading the model in the service'
    const loadMs = await loadEngine(service)
    bench.step = 'warm-up requests through the service'
    // The same warm-up as the direct side's: P at once of 32 tokens, then one of 128 (the shapes measured).
    const openai = service.openai()
    const warm = async (content: string, maxTokens: number): Promise<void> => {
      const r = await openai.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content }], temperature: 0, max_tokens: maxTokens })
      if (r.usage?.completion_tokens !== maxTokens) throw new Error(`warm-up: ${r.usage?.completion_tokens} completion tokens`)
    }
    await Promise.all(Array.from({ length: o.parallel }, (_, i) => warm(`hello ${i}`, BATCH_TOKENS)))
    await warm('hello there', SINGLE_TOKENS)
    const wantA = o.only.includes('a')
    const wantC = o.only.includes('c')
    if (wantC) await warmSinglePaths(service)
    await delay(300)
    // --repeat K: each measurement K times, interleaved, so that neighbours in time are compared; the round
    // keeps the median of each. Which goes first alternates.
    const a = wantA ? await measureServiceBatches(service, prompts, inputFile, o, round) : NO_SERVICE_BATCH
    const c = wantC ? await measureServiceSingles(service, singlePrompts, o, round) : NO_SERVICE_SINGLE
    return { loadMs, ...a, ...c }
  } finally {
    bench.step = 'stopping the service'
    await service.stop()
  }
}

export async function directRound(modelFile: string, prompts: readonly string[], singlePrompts: readonly string[], o: Options, round: number): Promise<DirectRound> {
  bench.step = 'loading the model in this process'
  const d = await loadDirect(modelFile, o.parallel)
  try {
    // Warm-up, outside: P at once of 32 tokens (each way), then one of 128 (each way).
    bench.step = 'warm-up in this process'
    for (const mode of ['chat', 'loop'] as const) await Promise.all(d.sequences.map((seq, i) => directRequest(d, seq, mode, `hello ${i}`, BATCH_TOKENS)))
    await directRequest(d, d.sequences[0], 'loop', 'hello there', SINGLE_TOKENS)
    await directRequest(d, d.sequences[0], 'chat', 'hello there', SINGLE_TOKENS)
    await delay(300)
    const b = o.only.includes('b') ? await measureDirectBatches(d, prompts, o, round) : NO_DIRECT_BATCH
    const c = o.only.includes('c') ? await measureDirectSingles(d, singlePrompts, o, round) : NO_DIRECT_SINGLE
    return { loadMs: d.loadMs, ...b, ...c }
  } finally {
    await disposeDirect(d)
  }
}
