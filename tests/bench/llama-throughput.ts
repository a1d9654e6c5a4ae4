/**
 * Benchmark: the embedded llama.cpp engine through the service against node-llama-cpp used directly.
 *
 *   npx tsx tests/bench/llama-throughput.ts [--parallel P] [--rounds R] [--repeat K] [--model tiny|small|medium|E,L,F]
 *     [--only a,b,c] [--env NAME=VALUE]... [--cpu-prof DIR] [--service-output DIR]
 *
 * One model, written by tests/helpers/tiny-gguf.ts into a temp dir (seeded random F32 weights that llama.cpp
 * really runs on the CPU). `--model` picks its dims: `small` (default: E 256, 4 blocks, F 768, 13.7 MB, about
 * 1.5 ms a token on one thread) keeps llama.cpp's work per token well above the HTTP and JS work per request;
 * `tiny` (the tests' model, E 64, 2 blocks, ~0.25 ms a token) is a stress case where they dominate.
 * One thread, no GPU layers, the same context size and the same P parallel sequences (default 4) everywhere.
 *
 * Three scenarios, one file each in llama/ (what each measures is said there):
 * (a) llama/service-batch.ts: 64 chat requests of 32 tokens as a batch through the service (`npm run serve`,
 *     started by launcher.ts, with its llama.cpp child).
 * (b) llama/direct-batch.ts: the same 64 requests straight through node-llama-cpp in this process
 *     (llama/direct.ts), LlamaChat and the server's own token loop.
 * (c) llama/single-stream.ts: 8 requests of 128 tokens one at a time, through the service and directly.
 * llama/rounds.ts runs a round of each side, llama/report.ts prints the tables.
 *
 * Every request must generate exactly max_tokens (the model never emits an end token): checked from usage
 * (the output file, vbs.sqlite, the responses) and from the direct runs' own counts (LlamaChat: the
 * sequence's token meter). Rounds alternate which side goes first; the service and the direct run never
 * overlap (the service and its engine are stopped before a direct run, and the direct model is disposed before
 * the service starts). Medians and ranges over the rounds; ratios per round, then their median. CPU seconds
 * of the service, of the engine child (its main JS thread apart from its other threads) and of this process
 * in the direct runs are read from /proc over each measured window.
 *
 * `--rounds R` (default 7) and `--repeat K` (default 3; about 12 minutes in all): three rounds of one cannot
 * resolve a 10 % difference on a noisy 2-core VM. `--repeat K` runs each measured part K times per round, interleaved with its counterparts, and
 * keeps the median: on a shared VM the CPU's speed drifts by tens of percent over seconds, so neighbours in
 * time compare better than distant ones.
 * `--env NAME=VALUE` sets a variable for the service (e.g. VBS_BATCH_CONCURRENCY=4): for experiments.
 * `--cpu-prof DIR` profiles the measured windows: the service and its engine child through a preload in
 * NODE_OPTIONS (the child inherits it) that starts and stops the inspector's profiler on SIGUSR2, the direct
 * runs through the inspector in this process; each profile's self time by function is printed. Profiling
 * slows everything down: its figures are for finding where time goes, not for the ratio. Every child
 * process and temp dir is removed at the end, also on an error or Ctrl-C. A benchmark, not a test: a missed
 * target prints MISS; the exit status is non-zero only when something broke.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { serveArgs } from '../helpers/serve-command'
import { writeTinyGguf } from '../helpers/tiny-gguf'
import { onlyFlag, parseFlags, serviceFlags } from './args'
import { f } from './bench-util'
import { summarizeProfiles } from './cpu-profiles'
import { bench, ROOT } from './launcher'
import { report } from './llama/report'
import { directRound, NO_DIRECT_ROUND, NO_SERVICE_ROUND, serviceRound, type DirectRound, type ServiceRound } from './llama/rounds'
import { batchInput, BATCH_REQUESTS, CONTEXT_SIZE, DEFAULT_PRESET, makePrompts, PRESETS, SINGLE_REQUESTS, type Options } from './llama/setup'

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { parallel: 4, rounds: 7, repeat: 3, modelName: DEFAULT_PRESET, model: PRESETS[DEFAULT_PRESET], only: ['a', 'b', 'c'], env: {}, cpuProfDir: null, outputDir: null }
  const usage =
    'usage: npx tsx tests/bench/llama-throughput.ts [--parallel P] [--rounds R] [--repeat K] [--model tiny|small|medium|E,L,F] [--only a,b,c] [--env NAME=VALUE]... [--cpu-prof DIR] [--service-output DIR]'
  const positive = (name: string, max: number) => (v: string): number => {
    const n = Number(v)
    if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new Error(`${name} needs an integer from 1 to ${max}, got ${JSON.stringify(v)}`)
    return n
  }
  parseFlags(argv, usage, {
    '--parallel': (v) => (o.parallel = positive('--parallel', 64)(v)),
    '--rounds': (v) => (o.rounds = positive('--rounds', 100)(v)),
    '--repeat': (v) => (o.repeat = positive('--repeat', 100)(v)),
    '--model': (v) => {
      if (PRESETS[v]) {
        o.modelName = v
        o.model = PRESETS[v]
        return
      }
      const m = /^(\d+),(\d+),(\d+)$/.exec(v)
      if (!m) throw new Error(`--model takes tiny, small, medium or E,L,F (hidden size, blocks, feed-forward size), got ${JSON.stringify(v)}`)
      const [E, L, F] = [Number(m[1]), Number(m[2]), Number(m[3])]
      const heads = E % 8 === 0 ? 8 : 4
      o.modelName = `E${E},L${L},F${F}`
      o.model = { embeddingLength: E, blockCount: L, feedForwardLength: F, headCount: heads, headCountKv: heads / 2 }
    },
    '--only': (v) => (o.only = onlyFlag(v, ['a', 'b', 'c'], 'a, b and/or c')),
    ...serviceFlags(o),
  })
  return o
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2))
  const work = bench.tempDir('vbs-bench-llama-')
  const modelFile = path.join(work, 'bench.gguf')
  const info = writeTinyGguf(modelFile, { seed: 1, name: 'bench-llama', ...o.model })
  const prompts = makePrompts(BATCH_REQUESTS)
  const singlePrompts = prompts.slice(0, SINGLE_REQUESTS)
  const inputFile = path.join(work, 'batch.jsonl')
  fs.writeFileSync(inputFile, batchInput(prompts))

  // tiny-gguf.ts's defaults where the preset says nothing.
  const m = { E: o.model.embeddingLength ?? 64, L: o.model.blockCount ?? 2, H: o.model.headCount ?? 4, KV: o.model.headCountKv ?? 2, F: o.model.feedForwardLength ?? 128 }
  const cpus = os.cpus()
  console.log('## llama.cpp throughput: the service against node-llama-cpp directly')
  console.log('')
  console.log(
    `nproc ${os.availableParallelism()} (${cpus[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, node-llama-cpp ${(JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'node-llama-cpp', 'package.json'), 'utf8')) as { version: string }).version}; ` +
      `model '${o.modelName}': E ${m.E}, ${m.L} blocks, ${m.H} heads (${m.KV} KV), F ${m.F}, vocabulary ${info.vocabSize}, F32, ${(info.size / 1e6).toFixed(1)} MB; ` +
      `P = ${o.parallel} sequences, context ${CONTEXT_SIZE} per sequence, 1 thread, 0 GPU layers; ${o.rounds} round(s) × ${o.repeat} repeat(s), parts ${o.only.join(', ')}` +
      `${Object.keys(o.env).length > 0 ? `; service env ${JSON.stringify(o.env)}` : ''}`,
  )
  console.log(`service: node ${serveArgs().map((a) => path.relative(ROOT, a) || a).join(' ')} (engine: its llama.cpp child, batch concurrency ${o.env.VBS_BATCH_CONCURRENCY ?? `2 × P = ${2 * o.parallel}`})`)
  const load = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' / ')
  console.log(`load average at the start: ${load()}`)

  const sr: ServiceRound[] = []
  const dr: DirectRound[] = []
  const needService = o.only.includes('a') || o.only.includes('c')
  const needDirect = o.only.includes('b') || o.only.includes('c')
  await bench.measure(async () => {
    for (let r = 1; r <= o.rounds; r++) {
      const serviceFirst = r % 2 === 1
      let s = NO_SERVICE_ROUND
      let d = NO_DIRECT_ROUND
      const doService = async (): Promise<void> => {
        if (needService) s = await serviceRound(modelFile, inputFile, prompts, singlePrompts, o, r)
      }
      const doDirect = async (): Promise<void> => {
        if (needDirect) d = await directRound(modelFile, prompts, singlePrompts, o, r)
      }
      if (serviceFirst) {
        await doService()
        await doDirect()
      } else {
        await doDirect()
        await doService()
      }
      sr.push(s)
      dr.push(d)
      console.error(
        `round ${r} (${serviceFirst ? 'service first' : 'direct first'}): (a) ${f(s.batch?.tps, 0)} tok/s, (b) ${f(d.chat?.tps, 0)} / loop ${f(d.loop?.tps, 0)} tok/s; ` +
          `(c) service ${f(s.whole?.tps, 0)} / streamed ${f(s.streamed?.tps, 0)}, direct ${f(d.singleChat?.tps, 0)} / loop ${f(d.singleLoop?.tps, 0)} tok/s`,
      )
    }
  })
  report(o, sr, dr)
  console.log(`load average at the end: ${load()}`)
  if (o.cpuProfDir) summarizeProfiles(o.cpuProfDir)
}

bench.run('llama-throughput', main)
