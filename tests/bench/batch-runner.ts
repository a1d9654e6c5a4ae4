/**
 * Benchmark: the batch runner (main/batch/runner.ts + scheduler.ts) against the fake vLLM.
 *
 *   npx tsx tests/bench/batch-runner.ts [--only a|b|c] [--lines N] [--cpu-prof DIR]
 *
 * Three scenarios, one file each in runner/ (what each measures is said there):
 * (a) runner/ceiling.ts: orchestration ceiling, jobs of 10,000 and N requests, a ~0 ms engine, W = 64.
 * (b) runner/efficiency.ts: W = 32 against a 100 ms engine, 3,000 requests, against the ideal W / L.
 * (c) runner/resume.ts: an N-request job, kill -9 of the service at half, restart on the same data dir.
 *
 * `--lines N` sets the large job of (a) and (c) (default 200,000); (b) uses min(N, 3,000). `--cpu-prof DIR`
 * runs the services under `node --cpu-prof` and prints each profile's self time by function (a service ends
 * with SIGTERM, so it writes its profile; the one killed in (c) does not). `--node-arg FLAG` (repeatable)
 * adds a node flag to the services (e.g. --trace-gc); `--service-output DIR` keeps each service's output;
 * `--env NAME=VALUE` (repeatable) sets a variable for the services, last (e.g. VBS_CHUNK_SIZE=1000): for
 * experiments, as it can change what the targets are measured under.
 * The service runs as `npm run serve` does (its command read from package.json), a child process started by
 * launcher.ts. It is a benchmark, not a test: a missed target prints MISS; the exit status is non-zero only
 * when something broke. Every child process (the services and, through the fake's launch log, the engines'
 * process groups) and every temp dir is removed at the end, also on an error or Ctrl-C.
 */
import os from 'node:os'
import path from 'node:path'
import { serveArgs } from '../helpers/serve-command'
import { onlyFlag, parseFlags, serviceFlags } from './args'
import { int } from './bench-util'
import { summarizeProfiles } from './cpu-profiles'
import { bench } from './launcher'
import { benchCeiling } from './runner/ceiling'
import { benchEfficiency } from './runner/efficiency'
import { benchResume } from './runner/resume'
import { DEFAULT_LINES, type Options } from './runner/setup'

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { only: ['a', 'b', 'c'], lines: DEFAULT_LINES, cpuProfDir: null, nodeArgs: [], outputDir: null, env: {} }
  const usage = 'usage: npx tsx tests/bench/batch-runner.ts [--only a|b|c] [--lines N] [--cpu-prof DIR] [--node-arg FLAG]... [--service-output DIR] [--env NAME=VALUE]...'
  parseFlags(argv, usage, {
    '--only': (v) => (options.only = onlyFlag(v, ['a', 'b', 'c'], 'a, b or c')),
    '--lines': (v) => {
      const n = Number(v)
      if (!Number.isSafeInteger(n) || n < 100) throw new Error(`--lines needs an integer >= 100, got ${JSON.stringify(v)}`)
      options.lines = n
    },
    '--node-arg': (v) => options.nodeArgs.push(v),
    ...serviceFlags(options),
  })
  return options
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2))
  const cpus = os.cpus()
  console.log(`## batch-runner benchmark`)
  console.log('')
  console.log(
    `nproc ${os.availableParallelism()} (${cpus[0]?.model.trim() ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${os.type()} ${os.release()}; ` +
      `service: node ${[...(o.cpuProfDir ? ['--cpu-prof'] : []), ...o.nodeArgs, ...serveArgs().map((a) => path.relative(process.cwd(), a) || a)].join(' ')}, engine: tests/fixtures/fake-vllm; ` +
      `parts: ${o.only.join(', ')}; large job ${int(o.lines)} requests${Object.keys(o.env).length > 0 ? `; extra env ${JSON.stringify(o.env)}` : ''}`,
  )
  const load = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' / ')
  console.log('')
  console.log(`load average (1 / 5 / 15 min) at the start: ${load()} (anything else running on the ${os.availableParallelism()} cores skews the figures)`)
  await bench.measure(async () => {
    if (o.only.includes('a')) await benchCeiling(o)
    if (o.only.includes('b')) await benchEfficiency(o)
    if (o.only.includes('c')) await benchResume(o)
  })
  console.log('')
  console.log(`load average (1 / 5 / 15 min) at the end: ${load()}`)
  if (o.cpuProfDir) summarizeProfiles(o.cpuProfDir)
}

bench.run('batch-runner', main)
