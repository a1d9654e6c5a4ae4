import { spawn, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { childEnv } from '../engine/child-env'
import type { GpuInfo } from '../contract/gpu'

export type { GpuInfo }

export const UNKNOWN_INFO: GpuInfo = Object.freeze({
  name: null,
  driverVersion: null,
  vramTotalMiB: null,
  pciBusId: null,
  cpu: Object.freeze({ brand: null, cores: null }),
  memoryTotalBytes: null,
})

export interface DiscoveryOptions {
  /** The environment to look in: its PATH finds nvidia-smi and lspci. */
  env: NodeJS.ProcessEnv
  timeoutMs: number
}

export interface Discovery {
  /** The answer, or an Error saying why there is none (timeout, crash, bad output). Never rejects. */
  result: Promise<GpuInfo | Error>
  /** Ends the discovery at once; `result` then resolves to an Error. */
  cancel(): void
}

/*
 * Runs in a child Node process. systeminformation asks nvidia-smi and lspci with execSync, which would stall
 * the service's event loop for as long as they take (seconds when a driver is unwell); it also copies
 * process.env (PATH) when it loads, so it must be loaded in a process that has the service's environment
 * (less our secrets: it hands that copy to nvidia-smi and lspci). Its module path comes as the one argument.
 * Only the fields we use leave the child.
 */
const SCRIPT = `'use strict'
const si = require(process.argv[1])
Promise.allSettled([si.graphics(), si.cpu(), si.mem()]).then(([g, c, m]) => {
  const pick = (o, keys) => (o ? Object.fromEntries(keys.map((k) => [k, o[k]])) : null)
  const report = {
    controllers: g.status === 'fulfilled' && Array.isArray(g.value.controllers)
      ? g.value.controllers.map((x) => pick(x, ['vendor', 'model', 'name', 'vram', 'memoryTotal', 'driverVersion', 'busAddress', 'pciBus']))
      : [],
    cpu: c.status === 'fulfilled' ? pick(c.value, ['manufacturer', 'brand', 'cores']) : null,
    mem: m.status === 'fulfilled' ? pick(m.value, ['total']) : null,
  }
  process.stdout.write(JSON.stringify(report), () => process.exit(0))
})
`

const MAX_OUTPUT = 1024 * 1024

/**
 * Finds out the GPU, CPU and memory with systeminformation, in a short-lived child process (never in this
 * one: see SCRIPT) that is killed after `timeoutMs`. The child is `process.execPath`, so this works the same
 * from the TypeScript sources (vitest, tsx), from Node and from the Electron build (ELECTRON_RUN_AS_NODE).
 */
export function discoverSystem(options: DiscoveryOptions): Discovery {
  let modulePath: string
  try {
    modulePath = createRequire(__filename).resolve('systeminformation')
  } catch (err) {
    return { result: Promise.resolve(new Error(`systeminformation is not installed: ${(err as Error).message}`)), cancel: () => undefined }
  }
  const group = process.platform !== 'win32'
  let child: ChildProcess
  try {
    child = spawn(process.execPath, ['-e', SCRIPT, modulePath], {
      env: { ...childEnv(options.env), ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a timeout also ends the nvidia-smi or lspci it may be stuck on.
      detached: group,
      windowsHide: true,
    })
  } catch (err) {
    return { result: Promise.resolve(new Error(`could not start the discovery process: ${(err as Error).message}`)), cancel: () => undefined }
  }
  let stdout = ''
  let stderr = ''
  let endedBy: string | null = null
  const kill = (why: string): void => {
    if (endedBy !== null) return
    endedBy = why
    try {
      if (group && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
      else child.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
  child.stdout!.on('data', (d: Buffer) => {
    if (stdout.length < MAX_OUTPUT) stdout += d.toString('utf8')
  })
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-2000)
  })
  const timer = setTimeout(() => kill(`it took longer than ${Math.round(options.timeoutMs / 1000)} s`), options.timeoutMs)
  timer.unref()
  const result = new Promise<GpuInfo | Error>((resolve) => {
    let spawnError: Error | null = null
    child.once('error', (err) => {
      spawnError = err
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      if (endedBy !== null) return resolve(new Error(`system discovery was ended: ${endedBy}`))
      if (spawnError) return resolve(new Error(`could not run the discovery process: ${spawnError.message}`))
      if (code !== 0) {
        const tail = stderr.trim().split('\n').slice(-3).join(' | ')
        return resolve(new Error(`system discovery failed (${signal ? `killed by ${signal}` : `exit code ${code}`})${tail ? `: ${tail}` : ''}`))
      }
      try {
        resolve(gpuInfoFromReport(JSON.parse(stdout) as unknown))
      } catch (err) {
        resolve(new Error(`system discovery gave unreadable output: ${(err as Error).message}`))
      }
    })
  })
  return { result, cancel: () => kill('cancelled') }
}

/** The GpuInfo in a report of the discovery child (see SCRIPT); anything missing or malformed is null. */
export function gpuInfoFromReport(report: unknown): GpuInfo {
  const r = asRecord(report)
  const controllers = Array.isArray(r.controllers) ? r.controllers.map(asRecord) : []
  const isNvidia = (c: Record<string, unknown>): boolean =>
    [c.vendor, c.name, c.model].some((v) => typeof v === 'string' && /nvidia/i.test(v))
  const gpu = controllers.find(isNvidia) ?? null
  const cpu = asRecord(r.cpu)
  const manufacturer = text(cpu.manufacturer)
  const brand = text(cpu.brand)
  return {
    // nvidia-smi's name ("NVIDIA GeForce RTX 4080") when it answered, else lspci's model ("AD103 [GeForce RTX 4080]").
    name: gpu ? (text(gpu.name) ?? text(gpu.model)) : null,
    driverVersion: gpu ? text(gpu.driverVersion) : null,
    // memoryTotal comes from nvidia-smi; vram may be only the size of a PCI BAR read by lspci.
    vramTotalMiB: gpu ? (positive(gpu.memoryTotal) ?? positive(gpu.vram)) : null,
    pciBusId: gpu ? (text(gpu.pciBus) ?? text(gpu.busAddress)) : null,
    cpu: {
      brand: brand === null ? manufacturer : manufacturer === null || brand.startsWith(manufacturer) ? brand : `${manufacturer} ${brand}`,
      cores: positive(cpu.cores),
    },
    memoryTotalBytes: positive(asRecord(r.mem).total),
  }
}

function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
}

function text(v: unknown): string | null {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null
}

function positive(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null
}
