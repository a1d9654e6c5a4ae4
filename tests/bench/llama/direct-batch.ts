import { f } from '../bench-util'
import { measuredRun, runDirect, type Direct, type DirectFigures } from './direct'
import { BATCH_TOKENS, medianOf, type Options } from './setup'

/**
 * (b) The same 64 requests straight through node-llama-cpp in this process (direct.ts), P workers, each on
 *     its own sequence: (b) LlamaChat per request, greedy, maxTokens 32; (b-loop) the server's own token loop.
 *     tokens/s = completion tokens / wall time (first request started to last ended). One unmeasured pass of
 *     each way first; the two ways alternate order. The target (a) / (b) >= 0.90 is checked against the
 *     faster of (b) and (b-loop).
 */

/** (b) of one round. */
export interface DirectBatchRound {
  /** The first pass of each way: a warm-up, outside the ratio (shown apart). */
  coldChat: DirectFigures | null
  coldLoop: DirectFigures | null
  chat: DirectFigures | null
  loop: DirectFigures | null
}

export const NO_DIRECT_BATCH: DirectBatchRound = { coldChat: null, coldLoop: null, chat: null, loop: null }

/** As the service's side: one unmeasured pass of each way first; then K of each, the two ways taking turns. */
export async function measureDirectBatches(d: Direct, prompts: readonly string[], o: Options, round: number): Promise<DirectBatchRound> {
  const coldChat = await runDirect(d, 'chat', prompts, BATCH_TOKENS, o.parallel)
  const coldLoop = await runDirect(d, 'loop', prompts, BATCH_TOKENS, o.parallel)
  const run = measuredRun(d, o, round)
  const chats: DirectFigures[] = []
  const loops: DirectFigures[] = []
  for (let k = 0; k < o.repeat; k++) {
    const chatFirst = (round + k) % 2 === 1
    if (chatFirst) chats.push(await run('chat', prompts, BATCH_TOKENS, o.parallel, k))
    loops.push(await run('loop', prompts, BATCH_TOKENS, o.parallel, k))
    if (!chatFirst) chats.push(await run('chat', prompts, BATCH_TOKENS, o.parallel, k))
  }
  return { coldChat, coldLoop, chat: medianOf(chats), loop: medianOf(loops) }
}

/** The (b) per round table. */
export function reportDirectBatchRounds(dr: readonly DirectBatchRound[]): void {
  console.log('')
  console.log('| (b) per round | LlamaChat tokens/s | loop tokens/s | CPU s this process, LlamaChat (main / other threads) | CPU s, loop (main / other) |')
  console.log('|--:|--:|--:|--:|--:|')
  dr.forEach((d, i) => {
    const c = (x: DirectFigures | null): string => (x ? `${f(x.cpu.total, 2)} (${f(x.cpu.main, 2)} / ${f((x.cpu.total ?? NaN) - (x.cpu.main ?? NaN), 2)})` : 'n/a')
    console.log(`| ${i + 1} | ${f(d.chat?.tps, 0)} | ${f(d.loop?.tps, 0)} | ${c(d.chat)} | ${c(d.loop)} |`)
  })
}
