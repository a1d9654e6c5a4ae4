/**
 * Benchmark: model switch times A -> B -> A against the fake vLLM, cold (stop and start) against the warm pool
 * (sleep and wake, models with `sleep: true`).
 *
 *   npm run bench:switch [-- --load-ms 5000] [--rounds 2]
 *
 * The service runs as `npm run serve` does (its own process, started by launcher.ts) with fake-vllm as its
 * engine, whose load takes `--load-ms` (FAKE_VLLM_LOAD_MS; going to sleep and waking take a tenth of it each,
 * as its header says). Each step is one chat request through the service for the other model, timed from the
 * request to its answer: what a client waits for when it asks for a model that is not the one serving. The
 * first step loads A from nothing in both cases; the rest are switches. The service and its engines (through
 * the fake's launch log) are ended at the end, also on an error or Ctrl-C.
 */
import os from 'node:os'
import path from 'node:path'
import { parseFlags } from './args'
import { int } from './bench-util'
import { fakeEngineEnv, killFakeEngines, readLaunches } from './fake-vllm'
import { bench } from './launcher'

interface Options {
  loadMs: number
  rounds: number
}

const models = (sleep: boolean): string =>
  ['bench-a', 'bench-b']
    .map((id) => `  - id: ${id}\n    model: bench-org/${id}\n    vram_gb: 4\n${sleep ? '    sleep: true\n' : ''}`)
    .join('')

interface Run {
  /** [label, ms] per step. */
  steps: [string, number][]
  /** Engine processes started. */
  launches: number
}

/** Starts a service, then asks for A, B, A, ... (`rounds` times B then A), timing each answer. */
async function run(sleep: boolean, o: Options): Promise<Run> {
  const gpu = bench.tempDir('vbs-bench-gpu-')
  const launchLog = path.join(gpu, 'launches.jsonl')
  bench.onCleanup(() => killFakeEngines(launchLog))
  const service = await bench.start({
    models: `default: bench-a\nmodels:\n${models(sleep)}`,
    echoStderr: true,
    env: { ...fakeEngineEnv(gpu, launchLog), VBS_LOG_LEVEL: 'warn', FAKE_VLLM_LOAD_MS: String(o.loadMs), VBS_WARM_POOL_GB: '64' },
  })
  const client = service.openai()
  const ask = async (model: string): Promise<number> => {
    const t0 = performance.now()
    const reply = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'switch' }], max_tokens: 4 })
    if (reply.choices[0]?.message.content !== 'echo: switch') throw new Error(`unexpected answer from ${model}: ${JSON.stringify(reply.choices[0])}`)
    return performance.now() - t0
  }
  const steps: [string, number][] = []
  bench.step = `${sleep ? 'warm' : 'cold'}: first load of A`
  steps.push(['load A (nothing running)', await ask('bench-a')])
  for (let r = 1; r <= o.rounds; r++) {
    bench.step = `${sleep ? 'warm' : 'cold'}: round ${r}`
    steps.push([`A -> B${o.rounds > 1 ? ` (round ${r})` : ''}`, await ask('bench-b')])
    steps.push([`B -> A${o.rounds > 1 ? ` (round ${r})` : ''}`, await ask('bench-a')])
  }
  await service.stop()
  return { steps, launches: readLaunches(launchLog).length }
}

async function main(): Promise<void> {
  const o: Options = { loadMs: 5000, rounds: 2 }
  const usage = 'usage: npm run bench:switch [-- --load-ms MS] [--rounds N]'
  parseFlags(process.argv.slice(2), usage, {
    '--load-ms': (v) => {
      const n = Number(v)
      if (!Number.isSafeInteger(n) || n < 100) throw new Error(`--load-ms needs an integer >= 100, got ${JSON.stringify(v)}`)
      o.loadMs = n
    },
    '--rounds': (v) => {
      const n = Number(v)
      if (!Number.isSafeInteger(n) || n < 1 || n > 20) throw new Error(`--rounds needs an integer 1-20, got ${JSON.stringify(v)}`)
      o.rounds = n
    },
  })
  const load = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' / ')
  console.log('## model-switch benchmark')
  console.log('')
  console.log(
    `nproc ${os.availableParallelism()} (${os.cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}; engine: tests/fixtures/fake-vllm, ` +
      `load ${int(o.loadMs)} ms (sleep and wake ${int(o.loadMs / 10)} ms each); load average at the start: ${load()}`,
  )
  const { cold, warm } = await bench.measure(async () => ({ cold: await run(false, o), warm: await run(true, o) }))
  console.log('')
  console.log('| step | cold: stop and start, ms | warm pool: sleep and wake, ms | speed-up |')
  console.log('|---|--:|--:|--:|')
  cold.steps.forEach(([label, ms], i) => {
    const w = warm.steps[i][1]
    console.log(`| ${label} | ${int(Math.round(ms))} | ${int(Math.round(w))} | ${i === 0 ? '-' : `${(ms / w).toFixed(1)}x`} |`)
  })
  console.log(`| engine processes started | ${cold.launches} | ${warm.launches} | |`)
  console.log('')
  console.log(`load average at the end: ${load()}`)
}

bench.run('model-switch', main)
