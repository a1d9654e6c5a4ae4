import os from 'node:os'
import { f, int, MB, mbOfKb, verdict } from '../bench-util'
import { freshJob, MEM_PHASES, type JobResult } from './job'
import { DEFAULT_LOAD_MS, jobSettings, POLL_MS, RSS_SAMPLE_MS, type Options } from './setup'

/**
 * (a) Orchestration ceiling: jobs of 10,000 and N (default 200,000) requests, a ~0 ms engine, W = 64. The
 *     rate is taken from the service's own progress snapshots (GET /api/batches/{id}, polled every
 *     POLL_MS): each snapshot holds `completed` and `updatedAt` (the service's clock when it was made, right
 *     after a commit), so rate = (completed_last - completed_first) / (updatedAt_last - updatedAt_first),
 *     from the first snapshot with completed > 0 to the last one seen (normally the final one, completed =
 *     total). Engine loading, validation and the output file are outside it (reported apart). Peak RSS is
 *     the service process's VmHWM: once over its whole life (upload, validation, run, output file) and
 *     once for the run + output file alone (VmHWM reset when the batch is in_progress); sampled VmRSS as a
 *     check. The fake engine's API server and EngineCore are reported for information.
 */

const SMALL_JOB = 10_000
const CEILING_W = 64

const TARGET_RPS = 2_000
const TARGET_RSS_MB = 300
/** "Flat": the large job's peak within this many MB of the 10,000-request job's peak. */
const TARGET_FLAT_MB = 30

export async function benchCeiling(o: Options): Promise<void> {
  const sizes = o.lines === SMALL_JOB ? [SMALL_JOB] : [Math.min(SMALL_JOB, o.lines), o.lines]
  const results: JobResult[] = []
  for (const lines of sizes) {
    console.error(`(a) ${int(lines)} requests, W=${CEILING_W}, engine latency 0 ms`)
    const r = await freshJob(lines, jobSettings(lines, CEILING_W), { FAKE_VLLM_LATENCY_MS: '0', FAKE_VLLM_LOAD_MS: String(DEFAULT_LOAD_MS) }, o)
    console.error(`    ${f(r.rps, 0)} req/s, service peak ${f(mbOfKb(r.lifeHwmKb))} MB`)
    results.push(r)
  }
  console.log('')
  console.log(`### (a) Orchestration ceiling: W = ${CEILING_W}, engine latency 0 ms, ${os.availableParallelism()} cores (nproc), service + engine + this script on them`)
  console.log('')
  console.log(
    '| requests | file MB | upload s | validate s | rate requests / s | in_progress->all done s (client, incl. engine load) | all done->completed s (output file) | service CPU s (µs / request) | engine CPU s (µs / request) |',
  )
  console.log('|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
  const perRequest = (cpu: number | null, n: number): string => (cpu === null ? 'n/a' : `${f(cpu, 1)} (${f((cpu * 1e6) / n, 0)})`)
  for (const r of results) {
    console.log(
      `| ${int(r.lines)} | ${f(r.fileBytes / MB)} | ${f(r.uploadS, 2)} | ${f(r.validateS, 2)} | **${f(r.rps, 0)}** | ${f(r.runWallS, 2)} | ${f(r.finalizeS, 2)} | ` +
        `${perRequest(r.serviceCpuS, r.lines)} | ${perRequest(r.engineCpuS, r.lines)} |`,
    )
  }
  console.log('')
  console.log(
    '| requests | service peak RSS MB (VmHWM, whole life) | VmHWM run + output | RSS before upload | peak upload | peak validate | peak run | peak output file | RSS at 25 / 50 / 75 / 100 % of the run | RSS after | engine API server peak | EngineCore peak |',
  )
  console.log('|--:|--:|--:|--:|--:|--:|--:|--:|--|--:|--:|--:|')
  for (const r of results) {
    const p = r.phasePeakKb
    console.log(
      `| ${int(r.lines)} | **${f(mbOfKb(r.lifeHwmKb))}** | ${f(mbOfKb(r.runHwmKb))} | ${f(mbOfKb(r.baselineKb))} | ${MEM_PHASES.map((ph) => f(mbOfKb(p[ph]))).join(' | ')} | ` +
        `${r.runRssKb.map((kb) => f(mbOfKb(kb), 0)).join(' / ')} | ${f(mbOfKb(r.endRssKb))} | ${f(mbOfKb(r.engine.apiServerHwmKb))} | ${f(mbOfKb(r.engine.engineCoreHwmKb))} |`,
    )
  }
  console.log('')
  console.log(
    `- rate = requests committed between the first progress snapshot with completed > 0 and the last one, over the service-clock time between them ` +
      `(${results.map((r) => `${int(r.rateRequests)} requests in ${f(r.rateSeconds, 2)} s`).join('; ')}); polled every ${POLL_MS} ms. ` +
      `The progress field requestsPerSecond (15 s window) peaked at ${results.map((r) => f(r.maxRpsField, 0)).join(' / ')}.`,
  )
  console.log(
    `- CPU (utime + stime from /proc): the service from in_progress to every request done; the engine (API server + EngineCore) over its whole life, which is about the same span. ` +
      `The two share the ${os.availableParallelism()} cores (with this script's polling).`,
  )
  console.log(`- peak RSS = VmHWM of pid ${results.map((r) => r.pid).join(' / ')} (${results[0]?.command ?? ''}); whole life = max(VmHWM before in_progress, VmHWM of the run after a reset, sampled VmRSS); the phase peaks are VmRSS sampled every ${RSS_SAMPLE_MS} ms. MB = 10^6 bytes.`)
  for (const r of results) {
    const life = mbOfKb(r.lifeHwmKb)
    console.log(`target: ${int(r.lines)} requests >= ${int(TARGET_RPS)} requests/s: ${f(r.rps, 0)} ${verdict((r.rps ?? 0) >= TARGET_RPS)}`)
    console.log(`target: ${int(r.lines)} requests, service peak RSS < ${TARGET_RSS_MB} MB: ${f(life)} MB ${verdict(life !== null && life < TARGET_RSS_MB)}`)
  }
  if (results.length === 2) {
    const [small, big] = results.map((r) => mbOfKb(r.lifeHwmKb))
    const [smallRun, bigRun] = results.map((r) => mbOfKb(r.runHwmKb))
    const growth = small !== null && big !== null ? big - small : null
    const runGrowth = smallRun !== null && bigRun !== null ? bigRun - smallRun : null
    console.log(
      `target: service peak RSS flat from ${int(results[0].lines)} to ${int(results[1].lines)} (within ${TARGET_FLAT_MB} MB): whole life ${growth !== null && growth >= 0 ? '+' : ''}${f(growth)} MB, run ${runGrowth !== null && runGrowth >= 0 ? '+' : ''}${f(runGrowth)} MB ${verdict(growth !== null && growth < TARGET_FLAT_MB)}`,
    )
  }
}
