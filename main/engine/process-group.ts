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

/**
 * Process groups of live processes whose environment holds `name=value` (read from /proc/<pid>/environ, as the
 * process was started; another user's processes cannot be read and are never matched). How a service finds
 * the engines it started in an earlier life when their pidfile is gone or was never written.
 */
export function groupsWithEnv(name: string, value: string): number[] {
  const needle = Buffer.from(`${name}=${value}\0`)
  const groups = new Set<number>()
  for (const pid of liveProcesses((s) => s.pid !== process.pid)) {
    let environ: Buffer
    try {
      environ = fs.readFileSync(`/proc/${pid}/environ`)
    } catch {
      continue
    }
    const at = environ.indexOf(needle)
    if (at === 0 || (at > 0 && environ[at - 1] === 0)) {
      const stat = readStat(pid)
      if (stat) groups.add(stat.pgrp)
    }
  }
  return [...groups]
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

/*
 * Who listens on a loopback port (Linux): /proc/net/tcp{,6} list every socket of this network namespace with
 * its inode, and /proc/<pid>/fd links name the inodes a process holds (`socket:[12345]`).
 */

/** Local addresses, as /proc/net/tcp prints them (host byte order, either endianness), that take connections to 127.0.0.1. */
const LOOPBACK_V4 = new Set(['00000000', '0100007F', '7F000001'])
/** The same in /proc/net/tcp6: `::` (dual-stack) and `::ffff:0.0.0.0` / `::ffff:127.0.0.1`. */
const LOOPBACK_V6 = new Set([
  '00000000000000000000000000000000',
  '0000000000000000FFFF000000000000',
  '0000000000000000FFFF00000100007F',
  '00000000000000000000FFFF00000000',
  '00000000000000000000FFFF7F000001',
])
const TCP_LISTEN = '0A'

/** Inodes of the sockets in a /proc/net/tcp or tcp6 table that listen on `port` where 127.0.0.1 reaches them. Pure. */
export function loopbackListenersIn(table: string, port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  const out: string[] = []
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f.length < 10 || f[3] !== TCP_LISTEN) continue
    const [address, p] = f[1].split(':')
    if (p !== hexPort) continue
    if (LOOPBACK_V4.has(address) || LOOPBACK_V6.has(address)) out.push(f[9])
  }
  return out
}

/** Socket inodes a process holds open; empty when its fds cannot be read (gone, or another user's). */
export function socketInodes(pid: number): Set<string> {
  const out = new Set<string>()
  let fds: string[]
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`)
  } catch {
    return out
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (m) out.add(m[1])
    } catch {
      // closed meanwhile
    }
  }
  return out
}

/**
 * Whose is the socket that answers on 127.0.0.1:port: `ours` when every listener there belongs to a process
 * of the group, `foreign` when any does not (another process took the port), `none` when nothing listens,
 * `unknown` without /proc (not Linux).
 */
export function portOwner(port: number, pgid: number): 'ours' | 'foreign' | 'none' | 'unknown' {
  if (!hasProc()) return 'unknown'
  const listeners: string[] = []
  let read = false
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      listeners.push(...loopbackListenersIn(fs.readFileSync(table, 'utf8'), port))
      read = true
    } catch {
      // no IPv6 on this machine
    }
  }
  if (!read) return 'unknown'
  if (listeners.length === 0) return 'none'
  const ours = new Set<string>()
  for (const pid of groupMembers(pgid)) for (const inode of socketInodes(pid)) ours.add(inode)
  return listeners.every((inode) => ours.has(inode)) ? 'ours' : 'foreign'
}
