import { f, int, mbOfKb, verdict } from '../bench-util'
import { FAKE_DEFAULT_MAX_NUM_SEQS } from '../fake-vllm'
import { freshJob } from './job'
import { DEFAULT_LOAD_MS, jobSettings, type Options } from './setup'

/**
 * (b) Efficiency: W = 32 against a 100 ms engine (max-num-seqs 256 > W), 3,000 requests (or --lines, if
 *     fewer): the rate measured as in (a) against the ideal W / L = 320/s.
 */

const EFFICIENCY_W = 32
const EFFICIENCY_LATENCY_MS = 100
const EFFICIENCY_LINES = 3_000

const TARGET_EFFICIENCY = 0.95

export async function benchEfficiency(o: Options): Promise<void> {
  const lines = Math.min(EFFICIENCY_LINES, o.lines)
  console.error(`(b) ${int(lines)} requests, W=${EFFICIENCY_W}, engine latency ${EFFICIENCY_LATENCY_MS} ms`)
  const r = await freshJob(lines, jobSettings(lines, EFFICIENCY_W), { FAKE_VLLM_LATENCY_MS: String(EFFICIENCY_LATENCY_MS), FAKE_VLLM_LOAD_MS: String(DEFAULT_LOAD_MS) }, o)
  const ideal = (EFFICIENCY_W * 1000) / EFFICIENCY_LATENCY_MS
  const ratio = r.rps === null ? null : r.rps / ideal
  const argv = r.engineArgv
  const seqsAt = argv.indexOf('--max-num-seqs')
  const maxNumSeqs = seqsAt >= 0 ? Number(argv[seqsAt + 1]) : FAKE_DEFAULT_MAX_NUM_SEQS
  console.log('')
  console.log(`### (b) Efficiency: W = ${EFFICIENCY_W}, engine latency L = ${EFFICIENCY_LATENCY_MS} ms`)
  console.log('')
  console.log('| requests | engine max-num-seqs | ideal W/L req/s | measured req/s | ratio | in_progress->all done s (client, incl. engine load) | service peak RSS MB |')
  console.log('|--:|--:|--:|--:|--:|--:|--:|')
  console.log(`| ${int(lines)} | ${maxNumSeqs}${seqsAt >= 0 ? '' : ' (default)'} | ${f(ideal, 0)} | ${f(r.rps, 1)} | **${f(ratio, 3)}** | ${f(r.runWallS, 2)} | ${f(mbOfKb(r.lifeHwmKb))} |`)
  console.log('')
  console.log(`- measured as in (a): ${int(r.rateRequests)} requests in ${f(r.rateSeconds, 2)} s of service-clock time between the first and the last progress snapshot.`)
  console.log(`- engine argv: ${argv.join(' ')}`)
  console.log(`check: engine max-num-seqs ${maxNumSeqs} > W ${EFFICIENCY_W} (the engine is not the limit): ${maxNumSeqs > EFFICIENCY_W ? 'yes' : 'NO'}`)
  console.log(`target: measured >= ${TARGET_EFFICIENCY} x W/L: ${f(ratio, 3)} ${verdict(ratio !== null && ratio >= TARGET_EFFICIENCY)}`)
}
