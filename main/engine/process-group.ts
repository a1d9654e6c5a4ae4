import fs from 'node:fs'

/**
 * Process facts from /proc (Linux, where vLLM runs). Used to tell our engine's process group from an
 * unrelated process that happens to reuse a pid.
 */
export interface ProcStat {
  pid: number
  ppid: number
  pgrp: number
  /** Start time in clock ticks after boot: with the pid, it names one process for good. */
  startTime: number
  state: string
}

export function readStat(pid: number): ProcStat | null {
  let text: string
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return { pid, state: rest[0], ppid: Number(rest[1]), pgrp: Number(rest[2]), startTime: Number(rest[19]) }
}

/** Every live process (zombies excluded) that matches `keep`. */
export function liveProcesses(keep: (stat: ProcStat) => boolean): number[] {
  let names: string[]
  try {
    names = fs.readdirSync('/proc')
  } catch {
    return []
  }
  const out: number[] = []
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue
    const stat = readStat(Number(name))
    if (stat && stat.state !== 'Z' && keep(stat)) out.push(stat.pid)
  }
  return out
}

/** Live members of a process group (zombies excluded). */
export function groupMembers(pgid: number): number[] {
  return liveProcesses((s) => s.pgrp === pgid)
}

export function hasProc(): boolean {
  return fs.existsSync('/proc/self/stat')
}

/** True while any process of the group is alive. */
export function groupAlive(pgid: number): boolean {
  if (hasProc()) return groupMembers(pgid).length > 0
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

/** Sends a signal to a whole process group; false when the group is already gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    return false
  }
}
