import { f, verdict } from '../bench-util'
import { reportDirectBatchRounds } from './direct-batch'
import type { DirectRound, ServiceRound } from './rounds'
import { reportServiceBatchRounds } from './service-batch'
import { BATCH_REQUESTS, BATCH_TOKENS, col, median, mr, type Options } from './setup'
import { reportSingle } from './single-stream'

/** The tables of llama-throughput: (a) against (b) and their ratio, each scenario's rounds, (c), the loads. */

const TARGET_RATIO = 0.9

export function report(o: Options, sr: ServiceRound[], dr: DirectRound[]): void {
  const batches = sr.map((r) => r.batch)
  const chats = dr.map((r) => r.chat)
  const loops = dr.map((r) => r.loop)
  const perRound = (g: (s: ServiceRound, d: DirectRound) => number | null): number[] =>
    sr.map((s, i) => g(s, dr[i])).filter((x): x is number => x !== null && Number.isFinite(x))

  if (o.only.includes('a') || o.only.includes('b')) {
    console.log('')
    console.log(`### (a) batch through the service vs (b) node-llama-cpp directly: ${BATCH_REQUESTS} requests × ${BATCH_TOKENS} tokens, P = ${o.parallel}`)
    console.log('')
    console.log('| | tokens/s, median (range) | time s | notes |')
    console.log('|---|--:|--:|---|')
    if (o.only.includes('a')) {
      console.log(
        `| (a) service batch: first request sent → last result committed | **${mr(col(batches, (b) => b.tps))}** | ${mr(col(batches, (b) => b.commitWindowS), 2)} | ` +
          `service's clock: min(results.started_at) in vbs.sqlite → first batch.progress with all committed (updatedAt) |`,
      )
      console.log(`| (a) service batch: first request sent → last answer received | ${mr(col(batches, (b) => b.engineTps))} | ${mr(col(batches, (b) => b.engineWindowS), 2)} | min(started_at) → max(finished_at) |`)
      console.log(
        `| (a) wall: batches.create → completed | ${mr(col(batches, (b) => b.completionTokens / b.wallS))} | ${mr(col(batches, (b) => b.wallS), 2)} | ` +
          `client clock, SSE batch.status; of which before the first send ${mr(col(batches, (b) => b.leadS), 2)} s, after the last commit ${mr(col(batches, (b) => b.tailS), 2)} s |`,
      )
    }
    if (o.only.includes('b')) {
      console.log(`| (b) direct, LlamaChat per request | **${mr(col(chats, (b) => b.tps))}** | ${mr(col(chats, (b) => b.wallS), 2)} | P workers, one sequence each |`)
      console.log(`| (b-loop) direct, the server's token loop (generate.ts) | **${mr(col(loops, (b) => b.tps))}** | ${mr(col(loops, (b) => b.wallS), 2)} | same prompt tokens as the service |`)
    }
    if (o.only.includes('a')) {
      const cold = sr.map((r) => r.coldBatch)
      console.log(`| not in the ratio: (a) the first batch after the load (warm-up) | ${mr(col(cold, (x) => x.tps))} | ${mr(col(cold, (x) => x.commitWindowS), 2)} | the same 64 lines, the same measure |`)
    }
    if (o.only.includes('b')) {
      console.log(
        `| not in the ratio: (b) / (b-loop) first pass (warm-up) | ${mr(col(dr.map((r) => r.coldChat), (x) => x.tps))} / ${mr(col(dr.map((r) => r.coldLoop), (x) => x.tps))} | | |`,
      )
    }
    if (o.only.includes('a')) {
      const cb = sr.map((r) => r.childBatch)
      console.log(
        `| diagnostic: the same requests POSTed straight to the engine child's port, ${2 * o.parallel} in flight | ${mr(col(cb, (x) => x.tps))} | ${mr(col(cb, (x) => x.wallS), 2)} | ` +
          `no service in between; client wall |`,
      )
    }
    console.log('')
  }
  if (o.only.includes('a') && o.only.includes('b')) {
    const rChat = perRound((s, d) => (s.batch && d.chat ? s.batch.tps / d.chat.tps : null))
    const rLoop = perRound((s, d) => (s.batch && d.loop ? s.batch.tps / d.loop.tps : null))
    const rBest = perRound((s, d) => (s.batch && d.chat && d.loop ? s.batch.tps / Math.max(d.chat.tps, d.loop.tps) : null))
    const rWall = perRound((s, d) => (s.batch && d.chat && d.loop ? s.batch.completionTokens / s.batch.wallS / Math.max(d.chat.tps, d.loop.tps) : null))
    console.log('| ratio (per round, then median) | median (range) |')
    console.log('|---|--:|')
    console.log(`| (a) / (b) LlamaChat | ${mr(rChat, 3)} |`)
    console.log(`| (a) / (b-loop) | ${mr(rLoop, 3)} |`)
    console.log(`| (a) / faster of (b), (b-loop) | **${mr(rBest, 3)}** |`)
    console.log(`| (a) wall / faster of (b), (b-loop) | ${mr(rWall, 3)} |`)
    console.log('')
    console.log(`target: (a) / (b) ≥ ${TARGET_RATIO} against the faster direct way: ${f(median(rBest), 3)} ${verdict(median(rBest) >= TARGET_RATIO)}`)
    const b0 = batches.find((b) => b !== null)
    const l0 = loops.find((l) => l !== null)
    if (b0 && l0) {
      let same = 0
      for (const [id, text] of b0.texts) if (l0.texts.get(id) === text) same += 1
      console.log(
        `check: every request generated exactly ${BATCH_TOKENS} tokens (usage, vbs.sqlite, direct counts); prompt tokens service ${b0.promptTokens}, direct ${l0.promptTokens} ` +
          `${b0.promptTokens === l0.promptTokens ? '(the same)' : '(DIFFERENT)'}; identical texts service vs direct loop (round 1): ${same}/${b0.texts.size}`,
      )
    }
  }
  if (o.only.includes('a')) reportServiceBatchRounds(sr, dr)
  if (o.only.includes('b')) reportDirectBatchRounds(dr)
  if (o.only.includes('c')) reportSingle(o, sr, dr)
  console.log('')
  console.log(
    `loads (outside every figure): service engine ${mr(sr.map((r) => r.loadMs ?? NaN), 0)} ms (startedAt → readyAt), direct ${mr(dr.map((r) => r.loadMs), 0)} ms (getLlama + loadModel + createContext)`,
  )
}
