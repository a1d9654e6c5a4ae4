import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { socketInodes } from '../../main/engine/process-group'

/**
 * Small Linux /proc helpers for the benchmarks: a process's memory figures and CPU time, its descendants, and
 * which of them holds a listening TCP socket (so a benchmark measures the process that really runs the service,
 * not a launcher such as the `tsx` CLI, which runs the script in a child `node`).
 */

/** A `Vm*` field of /proc/<pid>/status in kB, or null when the process is gone or the field is absent. */
export function readStatusKb(pid: number, field: 'VmRSS' | 'VmHWM' | 'VmSize' | 'VmPeak'): number | null {
  let text: string
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return null
  }
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(text)
  return match ? Number(match[1]) : null
}

/**
 * Resets the process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0, `echo 5 > clear_refs`).
 * Returns false when the kernel or the permissions do not allow it.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

/**
 * The fields of a /proc stat file (a process's `/proc/<pid>/stat`, or one thread's `/proc/<pid>/task/<tid>/stat`)
 * from field 3 (the state) on, or null when it is gone. The command name (field 2) is in parentheses and may
 * itself hold spaces or parentheses, so the fields start after the last ')'.
 */
function statFields(file: string): string[] | null {
  let stat: string
  try {
    stat = fs.readFileSync(file, 'utf8')
  } catch {
    return null
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/** The parent pid of a process, or null when it is gone. */
function parentOf(pid: number): number | null {
  const fields = statFields(`/proc/${pid}/stat`)
  const ppid = Number(fields?.[1])
  return fields && Number.isInteger(ppid) ? ppid : null
}

let clockTicks: number | null = null
/** Clock ticks per second of the times in /proc stat files (`getconf CLK_TCK`, read once). */
function clkTck(): number {
  if (clockTicks === null) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
      clockTicks = Number.isFinite(n) && n > 0 ? n : 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/** CPU seconds (utime + stime, fields 14 and 15) of a /proc stat file, or null when it is gone. */
export function statCpuSeconds(file: string): number | null {
  const fields = statFields(file)
  return fields ? (Number(fields[11]) + Number(fields[12])) / clkTck() : null
}

/** CPU seconds (user + system, all threads) a process has used so far, or null when it is gone. */
export function cpuSeconds(pid: number | null): number | null {
  return pid === null ? null : statCpuSeconds(`/proc/${pid}/stat`)
}

/** CPU seconds of a process: all threads, and its main thread alone (tid = pid: a node process's JS event loop). */
export interface Cpu {
  total: number | null
  main: number | null
}

export function cpuOf(pid: number | null): Cpu {
  if (pid === null) return { total: null, main: null }
  return { total: statCpuSeconds(`/proc/${pid}/stat`), main: statCpuSeconds(`/proc/${pid}/task/${pid}/stat`) }
}

/** What a process used between two readings of cpuOf. */
export function cpuDelta(a: Cpu, b: Cpu): Cpu {
  return {
    total: a.total !== null && b.total !== null ? b.total - a.total : null,
    main: a.main !== null && b.main !== null ? b.main - a.main : null,
  }
}

/** `root` and every process below it, root first, breadth-first. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>()
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const pid = Number(name)
    const ppid = parentOf(pid)
    if (ppid === null) continue
    const list = children.get(ppid)
    if (list) list.push(pid)
    else children.set(ppid, [pid])
  }
  const out: number[] = []
  const queue = [root]
  while (queue.length > 0) {
    const pid = queue.shift() as number
    out.push(pid)
    queue.push(...(children.get(pid) ?? []))
  }
  return out
}

/** Socket inodes of TCP sockets listening on `port` (IPv4 and IPv6). */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>()
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = fs.readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const row of text.split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/)
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      if (cols.length < 10) continue
      const localPort = cols[1].split(':')[1]
      if (localPort === hexPort && cols[3] === '0A') inodes.add(cols[9])
    }
  }
  return inodes
}

/** True when one of the process's open descriptors is one of the given sockets. */
function holdsSocket(pid: number, inodes: Set<string>): boolean {
  for (const inode of socketInodes(pid)) if (inodes.has(inode)) return true
  return false
}

/** The process at or below `root` that listens on `port`, or null if none does (or /proc does not say). */
export function findListeningProcess(root: number, port: number): number | null {
  const inodes = listeningInodes(port)
  if (inodes.size === 0) return null
  for (const pid of processTree(root)) if (holdsSocket(pid, inodes)) return pid
  return null
}

/**
 * A variable of the environment a process was started with (/proc/<pid>/environ: what it later removes from
 * its own process.env stays there), or null when it is gone or has none.
 */
export function environOf(pid: number, name: string): string | null {
  let text: string
  try {
    text = fs.readFileSync(`/proc/${pid}/environ`, 'utf8')
  } catch {
    return null
  }
  const entry = text.split('\0').find((e) => e.startsWith(`${name}=`))
  return entry === undefined ? null : entry.slice(name.length + 1)
}

/** The command line of a process, space-joined, or '' when it is gone. */
export function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ')
  } catch {
    return ''
  }
}

export type Phase = 'upload' | 'validate'

/**
 * Samples a process's VmRSS on a timer. Keeps the overall peak and the peak per phase (the phase names are the
 * caller's); samples taken while no phase is set count only towards the overall peak.
 */
export class RssSampler<P extends string = Phase> {
  peakKb = 0
  samples = 0
  readonly phasePeakKb: Record<P, number>
  private phase: P | null = null
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly pid: number,
    private readonly intervalMs: number,
    phases: readonly P[] = ['upload', 'validate'] as unknown as readonly P[],
  ) {
    this.phasePeakKb = Object.fromEntries(phases.map((p) => [p, 0])) as Record<P, number>
  }

  start(): void {
    this.sample()
    this.timer = setInterval(() => this.sample(), this.intervalMs)
  }

  setPhase(phase: P | null): void {
    if (phase === this.phase) return
    this.sample()
    this.phase = phase
    this.sample()
  }

  stop(): void {
    this.sample()
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  /** Reads VmRSS once; returns it in kB (null once the process is gone). */
  sample(): number | null {
    const kb = readStatusKb(this.pid, 'VmRSS')
    if (kb === null) return null
    this.samples += 1
    if (kb > this.peakKb) this.peakKb = kb
    if (this.phase !== null && kb > this.phasePeakKb[this.phase]) this.phasePeakKb[this.phase] = kb
    return kb
  }
}
