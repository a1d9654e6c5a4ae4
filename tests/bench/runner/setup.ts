import path from 'node:path'
import type { ServiceFlags } from '../args'
import { f, int, MB, writeLines } from '../bench-util'
import { fakeEngineEnv, killFakeEngines } from '../fake-vllm'
import { bench, randomKey, type Service } from '../launcher'

/** What the batch-runner scenarios share: their options, the service's set-up with the fake engine, the input files. */

export const MODEL = 'bench-a'
export const ENDPOINT = '/v1/chat/completions'
/** The fake engine's load time (FAKE_VLLM_LOAD_MS) where a scenario does not set its own. */
export const DEFAULT_LOAD_MS = 300

const MODELS_YAML = `default: ${MODEL}
models:
  - id: ${MODEL}
    model: bench-org/${MODEL}
    vram_gb: 4
`

/** How often a job's progress is polled, and the service's VmRSS sampled. */
export const POLL_MS = 100
export const RSS_SAMPLE_MS = 100

export type Part = 'a' | 'b' | 'c'
/** The large job of (a) and (c) without --lines. */
export const DEFAULT_LINES = 200_000

export interface Options extends ServiceFlags {
  only: Part[]
  lines: number
  /** Extra node flags for the service (e.g. --trace-gc). */
  nodeArgs: string[]
}

export interface ServiceSetup {
  dataDir: string
  gpuDir: string
  /** The fake engines' launch log: each line names an API server (its group leader) and its EngineCore. */
  launchLog: string
  key: string
  env: Record<string, string>
}

/**
 * A data dir, a fake GPU, a launch log and the environment of a service run (settings + fake engine knobs).
 * Whatever fake engine the log names is killed at the clean-up.
 */
export function serviceSetup(vbs: Record<string, string>, fake: Record<string, string>): ServiceSetup {
  const dataDir = bench.tempDir('vbs-bench-runner-data-')
  const gpuDir = bench.tempDir('vbs-bench-runner-gpu-')
  const launchLog = path.join(gpuDir, 'launches.jsonl')
  bench.onCleanup(() => {
    const n = killFakeEngines(launchLog)
    if (n > 0) console.error(`clean-up: SIGKILL to ${n} fake engine group(s) left running (${launchLog})`)
  })
  const key = randomKey()
  return { dataDir, gpuDir, launchLog, key, env: { ...fakeEngineEnv(gpuDir, launchLog), VBS_LOG_LEVEL: 'warn', ...vbs, ...fake } }
}

/** Starts a service on the set-up (again, for a restart on the same data dir) and waits until it listens. */
export function launchService(setup: ServiceSetup, o: Options, extraEnv: Record<string, string> = {}): Promise<Service> {
  return bench.start({
    dataDir: setup.dataDir,
    key: setup.key,
    models: MODELS_YAML,
    nodeArgs: [...(o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : []), ...o.nodeArgs],
    outputDir: o.outputDir,
    env: { ...setup.env, ...extraEnv, ...o.env },
  })
}

/** The service's limits for a job of `lines` requests, and its window W. */
export function jobSettings(lines: number, concurrency: number): Record<string, string> {
  return {
    VBS_BATCH_CONCURRENCY: String(concurrency),
    VBS_MAX_REQUESTS_PER_BATCH: String(Math.max(lines, 200_000)),
    VBS_MAX_QUEUED_REQUESTS: String(Math.max(lines, 1_000_000)),
    VBS_MAX_FILE_BYTES: String(2 * 1024 * 1024 * 1024),
  }
}

const inputs = new Map<number, { path: string; bytes: number }>()
let inputDir: string | null = null

/** A file of `lines` request lines of ~140-150 bytes (written once per size). */
export async function inputFile(lines: number): Promise<{ path: string; bytes: number }> {
  const known = inputs.get(lines)
  if (known) return known
  inputDir ??= bench.tempDir('vbs-bench-runner-input-')
  const file = path.join(inputDir, `input-${lines}.jsonl`)
  const t = performance.now()
  const bytes = await writeLines(
    file,
    lines,
    (i) => `{"custom_id":"r-${i}","method":"POST","url":"${ENDPOINT}","body":{"model":"${MODEL}","messages":[{"role":"user","content":"hi ${i}"}]}}\n`,
  )
  console.error(`generated ${int(lines)} lines, ${f(bytes / MB)} MB (${f(bytes / lines, 0)} bytes a line) in ${f((performance.now() - t) / 1000, 2)} s`)
  const entry = { path: file, bytes }
  inputs.set(lines, entry)
  return entry
}
