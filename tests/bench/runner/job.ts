import fs from 'node:fs'
import { delay, int } from '../bench-util'
import { isFake, readLaunches } from '../fake-vllm'
import { bench, type Service } from '../launcher'
import { commandLine, cpuSeconds, readStatusKb, resetPeakRss, RssSampler } from '../proc-memory'
import { ENDPOINT, inputFile, launchService, RSS_SAMPLE_MS, serviceSetup, type Options } from './setup'
import { jobTimeoutMs, newWatch, pollJob, rateOf, type JobView } from './watch'

/** One job from upload to completion on a fresh service, with its figures ((a) and (b)). */

export type MemPhase = 'upload' | 'validate' | 'run' | 'output'
export const MEM_PHASES: readonly MemPhase[] = ['upload', 'validate', 'run', 'output']

interface EngineMemory {
  apiServerHwmKb: number | null
  engineCoreHwmKb: number | null
  apiServerPid: number | null
}

/** VmHWM of the newest fake engine (its API server and EngineCore) while they still run. */
function engineMemory(launchLog: string): EngineMemory {
  const launches = readLaunches(launchLog)
  const l = launches[launches.length - 1]
  if (!l) return { apiServerHwmKb: null, engineCoreHwmKb: null, apiServerPid: null }
  return {
    apiServerHwmKb: isFake(l.pid) ? readStatusKb(l.pid, 'VmHWM') : null,
    engineCoreHwmKb: isFake(l.engine_pid) ? readStatusKb(l.engine_pid, 'VmHWM') : null,
    apiServerPid: l.pid,
  }
}

export interface JobResult {
  lines: number
  fileBytes: number
  uploadS: number
  validateS: number
  rps: number | null
  rateRequests: number
  rateSeconds: number
  /** Client side: from in_progress to every request done (includes the engine's load). */
  runWallS: number | null
  /** Client side: every request done to `completed` (the output file). */
  finalizeS: number | null
  baselineKb: number | null
  /** VmHWM up to in_progress (start, upload, validation). */
  preRunHwmKb: number | null
  /** VmHWM of the run and the output file alone (reset at in_progress), or null if it could not be reset. */
  runHwmKb: number | null
  lifeHwmKb: number | null
  sampledPeakKb: number
  phasePeakKb: Record<MemPhase, number>
  /** VmRSS when 25, 50, 75 and 100 % of the requests were committed. */
  runRssKb: (number | null)[]
  endRssKb: number | null
  engine: EngineMemory
  /** CPU seconds from in_progress to every request done: the service; the engine's two processes over their life. */
  serviceCpuS: number | null
  engineCpuS: number | null
  engineArgv: string[]
  final: JobView
  maxRpsField: number
  pid: number
  command: string
}

async function runJob(service: Service, launchLog: string, lines: number): Promise<JobResult> {
  const pid = service.pid
  const input = await inputFile(lines)
  const openai = service.openai()
  await delay(500) // start-up work settles
  const baselineKb = readStatusKb(pid, 'VmRSS')
  const sampler = new RssSampler<MemPhase>(pid, RSS_SAMPLE_MS, MEM_PHASES)
  bench.onCleanup(() => sampler.stop())
  sampler.start()
  sampler.setPhase('upload')

  bench.step = `uploading ${int(lines)} lines`
  let t = performance.now()
  const file = await openai.files.create({ file: fs.createReadStream(input.path), purpose: 'batch' })
  const uploadS = (performance.now() - t) / 1000
  if (file.bytes !== input.bytes) throw new Error(`the server stored ${file.bytes} of ${input.bytes} bytes`)

  bench.step = 'creating the batch and waiting for in_progress'
  sampler.setPhase('validate')
  t = performance.now()
  const batch = await openai.batches.create({ input_file_id: file.id, endpoint: ENDPOINT, completion_window: '24h' })
  const w = newWatch()
  await pollJob(service, batch.id, w, 120_000 + lines, (job) => job.status !== 'validating')
  const validateS = (performance.now() - t) / 1000
  const preRunHwmKb = readStatusKb(pid, 'VmHWM')
  const reset = resetPeakRss(pid)
  sampler.setPhase('run')
  const cpuAtStart = cpuSeconds(pid)
  let cpuAtDone: number | null = null
  let engineCpuS: number | null = null

  bench.step = `running ${int(lines)} requests`
  const runRssKb: (number | null)[] = [null, null, null, null]
  const final = await pollJob(
    service,
    batch.id,
    w,
    jobTimeoutMs(lines),
    (job) => job.status === 'completed',
    (job) => {
      const done = job.progress ? job.progress.completed + job.progress.failed : 0
      for (let q = 0; q < 4; q++) if (runRssKb[q] === null && done >= ((q + 1) * lines) / 4) runRssKb[q] = readStatusKb(pid, 'VmRSS')
      if (w.doneAt !== null && cpuAtDone === null) {
        cpuAtDone = cpuSeconds(pid)
        const l = readLaunches(launchLog).at(-1)
        const api = l ? cpuSeconds(l.pid) : null
        const core = l ? cpuSeconds(l.engine_pid) : null
        engineCpuS = api === null ? null : api + (core ?? 0)
        sampler.setPhase('output')
      }
    },
  )
  sampler.stop()
  const hwm = readStatusKb(pid, 'VmHWM')
  const engine = engineMemory(launchLog)
  const launches = readLaunches(launchLog)
  const counts = final.request_counts
  if (!counts || counts.total !== lines || counts.completed !== lines || counts.failed !== 0) {
    throw new Error(`batch ${batch.id} ended with counts ${JSON.stringify(counts)}, expected ${lines} completed`)
  }
  const rate = rateOf(w)
  const lifeHwmKb = preRunHwmKb === null || hwm === null ? null : Math.max(preRunHwmKb, hwm, sampler.peakKb)
  return {
    lines,
    fileBytes: input.bytes,
    uploadS,
    validateS,
    rps: rate.rps,
    rateRequests: rate.requests,
    rateSeconds: rate.seconds,
    runWallS: w.inProgressAt !== null && w.doneAt !== null ? (w.doneAt - w.inProgressAt) / 1000 : null,
    finalizeS: w.doneAt !== null && w.completedAt !== null ? (w.completedAt - w.doneAt) / 1000 : null,
    baselineKb,
    preRunHwmKb,
    runHwmKb: reset ? hwm : null,
    lifeHwmKb,
    sampledPeakKb: sampler.peakKb,
    phasePeakKb: { ...sampler.phasePeakKb },
    runRssKb,
    endRssKb: readStatusKb(pid, 'VmRSS'),
    engine,
    serviceCpuS: cpuAtStart !== null && cpuAtDone !== null ? cpuAtDone - cpuAtStart : null,
    engineCpuS,
    engineArgv: launches[launches.length - 1]?.argv ?? [],
    final,
    maxRpsField: w.maxRpsField,
    pid,
    command: commandLine(pid),
  }
}

/** Starts a fresh service, runs one job, stops the service. */
export async function freshJob(lines: number, vbs: Record<string, string>, fake: Record<string, string>, o: Options): Promise<JobResult> {
  const setup = serviceSetup(vbs, fake)
  bench.step = 'starting the service'
  const service = await launchService(setup, o)
  const result = await runJob(service, setup.launchLog, lines)
  bench.step = 'stopping the service'
  await service.stop()
  return result
}
