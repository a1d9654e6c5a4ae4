import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import type OpenAI from 'openai'
import { f } from '../bench-util'
import { bench, type Service } from '../launcher'
import { cpuDelta, cpuOf, type Cpu } from '../proc-memory'
import type { DirectRound } from './rounds'
import { EventStream, type SseEvent } from './events'
import { runToChild, type ChildFigures } from './plain-client'
import { toggleProfiles } from './profiling'
import { BATCH_TOKENS, ENDPOINT, medianOf, type Options } from './setup'

/**
 * (a) Batch through the service. The model is loaded first (POST /api/engine/start, GET /api/engine until
 *     ready), then warm-up requests, so load time is outside. The 64-line JSONL (temperature 0, max_tokens 32)
 *     is uploaded and the batch created with the `openai` SDK, twice: the first batch after a load runs
 *     markedly slower (JIT, first shapes), so it is a warm-up shown apart, as the direct side's first pass is.
 *     tokens/s = the completion tokens of the output file / the service's own window "first request sent to
 *     last result committed": from min(results.started_at) in <data>/vbs.sqlite (read with better-sqlite3,
 *     readonly; the runner stamps it just before it sends the request to the engine) to the `updatedAt` of the
 *     first progress snapshot with every request committed (the `batch.progress` events of GET /api/events:
 *     the runner makes it right after its last commit; the finalizer clears the stored one). Both are the
 *     service's Date.now(). Also shown: the engine window (min started_at to max finished_at, the last answer
 *     received, before its commit) and the client's wall time from batches.create to the `batch.status` ->
 *     completed event (includes validation, the scheduler picking the job up and the output file).
 *     Diagnostic: the same requests, 2 × P in flight as the runner sends them, POSTed by this script straight
 *     to the engine child's port (no service in between).
 */

const JOB_TIMEOUT_MS = 15 * 60_000

interface ProgressView {
  completed: number
  failed: number
  total: number
  updatedAt: number
}

export interface BatchFigures {
  completionTokens: number
  promptTokens: number
  /** first request sent -> last result committed (service clock), s. */
  commitWindowS: number
  /** first request sent -> last answer received (service clock), s. */
  engineWindowS: number
  tps: number
  engineTps: number
  /** batches.create -> completed event (client clock), s. */
  wallS: number
  /** batches.create -> first request sent; last commit -> completed event (mixed clocks, same machine), s. */
  leadS: number
  tailS: number
  /** Most requests in flight at once (from started_at / finished_at), and the mean. */
  maxInFlight: number
  meanInFlight: number
  /** Mean time from a request's send to its answer, ms. */
  meanLatencyMs: number
  serviceCpu: Cpu
  engineCpu: Cpu
  texts: Map<string, string>
}

async function runBatch(service: Service, prompts: readonly string[], inputFile: string, profile = false): Promise<BatchFigures> {
  const openai = service.openai()
  bench.step = 'uploading the batch input'
  const file = await openai.files.create({ file: fs.createReadStream(inputFile), purpose: 'batch' })
  const events = new EventStream(service)
  await events.opened
  let batchId: string | null = null
  const early: SseEvent[] = []
  let resolveDone: (e: SseEvent) => void = () => undefined
  let rejectDone: (err: Error) => void = () => undefined
  const done = new Promise<SseEvent>((resolve, reject) => {
    resolveDone = resolve
    rejectDone = reject
  })
  /** The earliest progress snapshot with every request committed: the runner makes it right after its last commit. */
  let lastCommit: number | null = null
  const consider = (e: SseEvent): void => {
    if (e.event === 'batch.progress') {
      const d = e.data as { id: string; progress: ProgressView }
      const p = d.progress
      if (d.id === batchId && p.total > 0 && p.completed + p.failed >= p.total && (lastCommit === null || p.updatedAt < lastCommit)) lastCommit = p.updatedAt
      return
    }
    if (e.event !== 'batch.status') return
    const d = e.data as { batch: { id: string; status: string; errors: unknown }; to: string }
    if (d.batch.id !== batchId) return
    if (d.to === 'completed') resolveDone(e)
    else if (['failed', 'expired', 'cancelled', 'cancelling'].includes(d.to)) rejectDone(new Error(`the batch went to ${d.to}: ${JSON.stringify(d.batch.errors)}`))
  }
  events.on((e) => (batchId === null ? early.push(e) : consider(e)))

  bench.step = 'running the batch'
  const serviceCpu0 = cpuOf(service.pid)
  const engineCpu0 = cpuOf(service.enginePid)
  if (profile) await toggleProfiles(service)
  const createdAt = Date.now()
  let doneEvent: SseEvent
  try {
    const batch = await openai.batches.create({ input_file_id: file.id, endpoint: ENDPOINT, completion_window: '24h' })
    batchId = batch.id
    for (const e of early.splice(0)) consider(e)
    let timer: NodeJS.Timeout | undefined
    doneEvent = await Promise.race([
      done,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the batch did not complete within ${JOB_TIMEOUT_MS / 1000} s`)), JOB_TIMEOUT_MS)
      }),
    ]).finally(() => clearTimeout(timer))
  } finally {
    events.close()
    if (profile) await toggleProfiles(service)
  }
  const serviceCpu = cpuDelta(serviceCpu0, cpuOf(service.pid))
  const engineCpu = cpuDelta(engineCpu0, cpuOf(service.enginePid))

  bench.step = 'reading the batch results'
  const job = await service.api<{ output_file_id: string | null; request_counts: { completed: number; failed: number; total: number } }>(`/api/batches/${batchId}`)
  if (lastCommit === null) throw new Error('no batch.progress event showed every request committed')
  if (job.request_counts.completed !== prompts.length || job.request_counts.failed !== 0) throw new Error(`request counts ${JSON.stringify(job.request_counts)}`)
  const out = await (await openai.files.content(job.output_file_id!)).text()
  const texts = new Map<string, string>()
  let completionTokens = 0
  let promptTokens = 0
  for (const line of out.trim().split('\n')) {
    const r = JSON.parse(line) as { custom_id: string; response: { status_code: number; body: OpenAI.Chat.ChatCompletion } }
    const u = r.response.body.usage
    if (r.response.status_code !== 200 || !u) throw new Error(`${r.custom_id}: status ${r.response.status_code}`)
    if (u.completion_tokens !== BATCH_TOKENS) throw new Error(`${r.custom_id}: ${u.completion_tokens} completion tokens, not ${BATCH_TOKENS}`)
    if (r.response.body.choices[0].finish_reason !== 'length') throw new Error(`${r.custom_id}: finish_reason ${r.response.body.choices[0].finish_reason}`)
    completionTokens += u.completion_tokens
    promptTokens += u.prompt_tokens
    texts.set(r.custom_id, r.response.body.choices[0].message.content ?? '')
  }
  if (texts.size !== prompts.length) throw new Error(`the output file holds ${texts.size} of ${prompts.length} results`)

  const db = new Database(path.join(service.dataDir, 'vbs.sqlite'), { readonly: true, fileMustExist: true })
  let rows: { started_at: number; finished_at: number; output_tokens: number }[]
  try {
    rows = db
      .prepare('SELECT r.started_at, r.finished_at, r.output_tokens FROM results r JOIN batches b ON b.seq = r.batch_seq WHERE b.id = ?')
      .all(batchId) as typeof rows
  } finally {
    db.close()
  }
  if (rows.length !== prompts.length) throw new Error(`vbs.sqlite holds ${rows.length} results`)
  const sqliteTokens = rows.reduce((n, r) => n + r.output_tokens, 0)
  if (sqliteTokens !== completionTokens) throw new Error(`vbs.sqlite counts ${sqliteTokens} output tokens, the output file ${completionTokens}`)
  const firstSent = Math.min(...rows.map((r) => r.started_at))
  const lastAnswer = Math.max(...rows.map((r) => r.finished_at))
  const committedAt: number = lastCommit
  // In flight: sweep over the send/answer instants.
  const marks = rows.flatMap((r) => [
    { at: r.started_at, d: 1 },
    { at: r.finished_at, d: -1 },
  ])
  marks.sort((x, y) => x.at - y.at || x.d - y.d)
  let inFlight = 0
  let maxInFlight = 0
  let area = 0
  let prev = firstSent
  for (const m of marks) {
    area += inFlight * (m.at - prev)
    prev = m.at
    inFlight += m.d
    maxInFlight = Math.max(maxInFlight, inFlight)
  }
  const commitWindowS = (committedAt - firstSent) / 1000
  const engineWindowS = (lastAnswer - firstSent) / 1000
  return {
    completionTokens,
    promptTokens,
    commitWindowS,
    engineWindowS,
    tps: completionTokens / commitWindowS,
    engineTps: completionTokens / engineWindowS,
    wallS: (doneEvent.at - createdAt) / 1000,
    leadS: (firstSent - createdAt) / 1000,
    tailS: (doneEvent.at - committedAt) / 1000,
    maxInFlight,
    meanInFlight: area / (lastAnswer - firstSent),
    meanLatencyMs: rows.reduce((n, r) => n + (r.finished_at - r.started_at), 0) / rows.length,
    serviceCpu,
    engineCpu,
    texts,
  }
}

/** (a) of one round. */
export interface ServiceBatchRound {
  /** The first batch after the load: a warm-up, outside the ratio (shown apart). */
  coldBatch: BatchFigures | null
  batch: BatchFigures | null
  /** Diagnostic: straight to the child's port, 2 × P in flight as the runner. */
  childBatch: ChildFigures | null
}

export const NO_SERVICE_BATCH: ServiceBatchRound = { coldBatch: null, batch: null, childBatch: null }

/**
 * A first, unmeasured batch (the first one after a load runs markedly slower on both sides), then --repeat K
 * batches interleaved with the diagnostic, which goes first alternating; the round keeps the medians.
 */
export async function measureServiceBatches(service: Service, prompts: readonly string[], inputFile: string, o: Options, round: number): Promise<ServiceBatchRound> {
  const coldBatch = await runBatch(service, prompts, inputFile)
  const batches: BatchFigures[] = []
  const childBatches: ChildFigures[] = []
  for (let k = 0; k < o.repeat; k++) {
    const turn = (round + k) % 2 === 1
    if (turn) batches.push(await runBatch(service, prompts, inputFile, k === 0))
    childBatches.push(await runToChild(service, prompts, BATCH_TOKENS, 2 * o.parallel, 10, k === 0))
    if (!turn) batches.push(await runBatch(service, prompts, inputFile, k === 0))
  }
  return { coldBatch, batch: medianOf(batches), childBatch: medianOf(childBatches) }
}

/** The (a) per round table (with the round's (b) for the ratio). */
export function reportServiceBatchRounds(sr: readonly ServiceBatchRound[], dr: readonly DirectRound[]): void {
  console.log('')
  console.log(
    '| (a) per round | first | tokens/s | cold batch | child port | (b) / (b-loop) | ratio | window s | wall s | in flight max / mean | mean send→answer ms | CPU s service | CPU s engine (main thread / other threads) |',
  )
  console.log('|--:|--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
  sr.forEach((s, i) => {
    const b = s.batch
    if (!b) return
    const d = dr[i]
    const other = b.engineCpu.total !== null && b.engineCpu.main !== null ? b.engineCpu.total - b.engineCpu.main : null
    const best = Math.max(d.chat?.tps ?? NaN, d.loop?.tps ?? NaN)
    console.log(
      `| ${i + 1} | ${i % 2 === 0 ? 'service' : 'direct'} | ${f(b.tps, 0)} | ${f(s.coldBatch?.tps, 0)} | ${f(s.childBatch?.tps, 0)} | ${f(d.chat?.tps, 0)} / ${f(d.loop?.tps, 0)} | ${f(b.tps / best, 3)} | ` +
        `${f(b.commitWindowS, 2)} | ${f(b.wallS, 2)} | ${b.maxInFlight} / ${f(b.meanInFlight, 2)} | ${f(b.meanLatencyMs, 0)} | ${f(b.serviceCpu.total, 2)} | ` +
        `${f(b.engineCpu.total, 2)} (${f(b.engineCpu.main, 2)} / ${f(other, 2)}) |`,
    )
  })
  console.log('')
  console.log(`CPU over the client's wall (batches.create → completed); the engine is our llama-server child (its main thread runs JS: HTTP, rendering, the token loop).`)
}
