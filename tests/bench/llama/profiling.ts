import fs from 'node:fs'
import path from 'node:path'
import { delay } from '../bench-util'
import { bench, type Service } from '../launcher'

/** --cpu-prof of llama-throughput: profiles of the measured windows only, in the service, its engine child and this process. */

let hookFile: string | null = null
let profiling = false

/**
 * A preload (NODE_OPTIONS=--require, which the engine child inherits; --cpu-prof itself is not allowed there)
 * that profiles a process's main thread with the inspector between two SIGUSR2s, so a profile covers one
 * measured window and not the start-up: <dir>/<label>-<pid>-<n>.cpuprofile.
 */
export function profileHook(dir: string): string {
  if (hookFile) return hookFile
  profiling = true
  hookFile = path.join(bench.tempDir('vbs-bench-llama-hook-'), 'cpu-profile-hook.cjs')
  fs.writeFileSync(
    hookFile,
    `const { isMainThread } = require('node:worker_threads')
if (isMainThread) {
  const inspector = require('node:inspector')
  const fs = require('node:fs')
  const path = require('node:path')
  const session = new inspector.Session()
  session.connect()
  session.post('Profiler.enable')
  session.post('Profiler.setSamplingInterval', { interval: 1000 })
  let on = false
  let n = 0
  process.on('SIGUSR2', () => {
    if (!on) {
      on = true
      session.post('Profiler.start')
      return
    }
    on = false
    session.post('Profiler.stop', (err, result) => {
      if (err) return
      const label = path.basename(process.argv[1] || 'node').replace(/\\.[^.]+$/, '')
      n += 1
      fs.writeFileSync(path.join(${JSON.stringify(dir)}, label + '-' + process.pid + '-' + n + '.cpuprofile'), JSON.stringify(result.profile))
    })
  })
}
`,
  )
  return hookFile
}

/** Starts or stops (every other call) the profile of the service and of its engine child (--cpu-prof). */
export async function toggleProfiles(service: Service): Promise<void> {
  if (!profiling) return
  for (const pid of [service.pid, service.enginePid]) if (pid) process.kill(pid, 'SIGUSR2')
  await delay(50)
}

/** The same for this process (the direct runs), through the inspector. */
let selfSession: import('node:inspector').Session | null = null
export async function profileSelf<T>(label: string, dir: string | null, work: () => Promise<T>): Promise<T> {
  if (!dir) return await work()
  const inspector = await import('node:inspector')
  selfSession ??= new inspector.Session()
  const session = selfSession
  try {
    session.connect()
  } catch {
    // connected already
  }
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => session.post(method, params ?? {}, (err: Error | null, result?: unknown) => (err ? reject(err) : resolve(result))))
  await post('Profiler.enable')
  await post('Profiler.setSamplingInterval', { interval: 1000 })
  await post('Profiler.start')
  try {
    return await work()
  } finally {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown }
    fs.writeFileSync(path.join(dir, `${label}.cpuprofile`), JSON.stringify(profile))
  }
}
