import fs from 'node:fs'
import path from 'node:path'
import { ROOT } from './launcher'
import { commandLine } from './proc-memory'

/** tests/fixtures/fake-vllm as the service's engine, and the fake nvidia-smi beside it. */

export const FAKE_VLLM = path.join(ROOT, 'tests', 'fixtures', 'fake-vllm')
const FAKE_BIN = path.join(ROOT, 'tests', 'fixtures', 'bin')
/** The fake's --max-num-seqs when it is given none (the service passes none where models.yaml sets no max_num_seqs). */
export const FAKE_DEFAULT_MAX_NUM_SEQS = 256

/**
 * The service's environment for fake-vllm as its engine on a fake 4000 MiB GPU whose state is in gpuDir;
 * with a launch log, the fake writes a line there for each engine it starts (readLaunches).
 */
export function fakeEngineEnv(gpuDir: string, launchLog?: string): Record<string, string> {
  return {
    PATH: `${FAKE_BIN}:${process.env.PATH ?? ''}`,
    VBS_VLLM_BIN: FAKE_VLLM,
    FAKE_GPU_STATE_DIR: gpuDir,
    ...(launchLog ? { FAKE_VLLM_LAUNCH_LOG: launchLog } : {}),
    FAKE_VLLM_GPU_MIB: '4000',
  }
}

/** A line of the launch log: an API server (its process group's leader) and its EngineCore. */
export interface Launch {
  pid: number
  pgid: number | null
  engine_pid: number
  argv: string[]
  at: string
}

export function readLaunches(file: string): Launch[] {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return []
  }
  const out: Launch[] = []
  for (const row of text.split('\n')) {
    if (!row.trim()) continue
    try {
      out.push(JSON.parse(row) as Launch)
    } catch {
      // a line being written
    }
  }
  return out
}

/**
 * True when pid is alive and runs the fake engine (so a reused pid is never signalled). The EngineCore sets
 * process.title, which rewrites its command line to `VLLM::EngineCore`.
 */
export function isFake(pid: number): boolean {
  const cmd = commandLine(pid)
  return cmd.includes('fake-vllm') || cmd.startsWith('VLLM::EngineCore')
}

/** SIGKILL to the process group of every fake engine a launch log names, and to its EngineCore. */
export function killFakeEngines(launchLog: string): number {
  let killed = 0
  for (const l of readLaunches(launchLog)) {
    const leaderAlive = isFake(l.pid)
    const pgid = l.pgid ?? l.pid
    if (leaderAlive || isFake(l.engine_pid)) {
      try {
        process.kill(-pgid, 'SIGKILL')
        killed += 1
      } catch {
        // the group is gone
      }
    }
    if (isFake(l.engine_pid)) {
      try {
        process.kill(l.engine_pid, 'SIGKILL')
      } catch {
        // gone
      }
    }
  }
  return killed
}
