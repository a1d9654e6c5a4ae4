import fs from 'node:fs'
import path from 'node:path'
import { FIXTURES, startService, tempDir, TEST_MODELS, type TestService } from './service'
import type { ServiceOptions } from '../../main/service'
import type { Settings } from '../../main/config/settings'
import { groupMembers, liveProcesses, readStat } from '../../main/engine/process-group'

export const FAKE_VLLM = path.join(FIXTURES, 'fake-vllm')

/** The environment for `npm run serve` as a child (spawnServe) on dataDir with the fake engine, plus `extra`. */
export function serveEnvWithFake(fake: { env: NodeJS.ProcessEnv }, dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return { ...fake.env, VBS_DATA_DIR: dataDir, VBS_MODELS: TEST_MODELS, VBS_VLLM_BIN: FAKE_VLLM, VBS_ENGINE_HEALTH_POLL_MS: '100', ...extra } as Record<string, string>
}
export const FAKE_BIN = path.join(FIXTURES, 'bin')

export interface FakeEngineEnv {
  env: NodeJS.ProcessEnv
  gpuDir: string
  launchLog: string
  requestLog: string
  /** Changes the fake GPU (temperature, memory, failure) as nvidia-smi will report it. */
  setGpu: (patch: Record<string, unknown>) => void
  launches: () => { pid: number; argv: string[]; model: string; served: string[] }[]
  requests: () => { path: string; model: string; priority?: number; stream?: boolean; aborted?: boolean; keys?: string[] }[]
}

/** The environment that puts fake-vllm and the fake nvidia-smi/lspci in place of the real ones. */
export function fakeEngineEnv(knobs: Record<string, string> = {}): FakeEngineEnv {
  const dir = tempDir('vbs-fake-gpu-')
  const launchLog = path.join(dir, 'launches.jsonl')
  const requestLog = path.join(dir, 'requests.jsonl')
  const readJsonl = <T>(file: string): T[] =>
    fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T) : []
  const gpuFile = path.join(dir, 'gpu.json')
  return {
    env: {
      PATH: `${FAKE_BIN}:${process.env.PATH ?? ''}`,
      HOME: process.env.HOME ?? '',
      FAKE_GPU_STATE_DIR: dir,
      FAKE_VLLM_LAUNCH_LOG: launchLog,
      FAKE_VLLM_REQUEST_LOG: requestLog,
      FAKE_VLLM_LOAD_MS: '200',
      FAKE_VLLM_GPU_MIB: '4000',
      ...knobs,
    },
    gpuDir: dir,
    launchLog,
    requestLog,
    setGpu: (patch) => {
      const current = fs.existsSync(gpuFile) ? (JSON.parse(fs.readFileSync(gpuFile, 'utf8')) as Record<string, unknown>) : {}
      fs.writeFileSync(`${gpuFile}.tmp`, JSON.stringify({ ...current, ...patch }))
      fs.renameSync(`${gpuFile}.tmp`, gpuFile)
    },
    launches: () => readJsonl(launchLog),
    requests: () => readJsonl(requestLog),
  }
}

/** Engine settings for tests: the fake binary, quick polls, short waits, generous bounds. */
export const FAST_ENGINE: Partial<Settings> = {
  vllmBin: FAKE_VLLM,
  engineHealthPollMs: 100,
  engineStopGraceMs: 10_000,
  gpuReleaseTimeoutMs: 10_000,
  engineRestartBackoffMs: 200,
  engineWaitMs: 60_000,
}

/** Polls `check` until it returns a truthy value (bounded). */
export async function eventually<T>(check: () => T | Promise<T>, what: string, timeoutMs = 60_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  let last: T | undefined
  for (;;) {
    last = await check()
    if (last) return last as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** True when a process exists and is not a zombie. */
export function alive(pid: number): boolean {
  const stat = readStat(pid)
  return stat !== null && stat.state !== 'Z'
}

/** Live processes whose process group is pgid. */
export const processGroup = groupMembers

/** Live children of a process. */
export function childrenOf(ppid: number): number[] {
  return liveProcesses((s) => s.ppid === ppid)
}

export interface FakeBoot {
  t: TestService
  fake: FakeEngineEnv
}

/**
 * Services with the fake engine for a test file: `boot()` starts one, `cleanup()` (in afterEach) stops them all
 * and kills anything their engines left, so nothing a test started outlives it.
 */
export function fakeServices(defaults: Partial<Settings> = {}): {
  boot: (knobs?: Record<string, string>, settings?: Partial<Settings>, dataDir?: string, injected?: Pick<ServiceOptions, 'clock' | 'idleSeconds'>) => Promise<FakeBoot>
  track: (pair: FakeBoot) => void
  untrack: (t: TestService) => void
  cleanup: () => Promise<void>
} {
  let running: FakeBoot[] = []
  return {
    boot: async (knobs = {}, settings = {}, dataDir = tempDir(), injected = {}) => {
      const fake = fakeEngineEnv(knobs)
      const t = await startService({ ...FAST_ENGINE, ...defaults, ...settings }, dataDir, fake.env, injected)
      const pair = { t, fake }
      running.push(pair)
      return pair
    },
    track: (pair) => {
      running.push(pair)
    },
    untrack: (t) => {
      running = running.filter((r) => r.t !== t)
    },
    cleanup: async () => {
      for (const { t, fake } of running.splice(0)) {
        await t.stop().catch(() => undefined)
        for (const l of fake.launches()) for (const pid of processGroup(l.pid)) process.kill(pid, 'SIGKILL')
      }
    },
  }
}
