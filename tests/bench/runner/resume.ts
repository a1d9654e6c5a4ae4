import fs from 'node:fs'
import path from 'node:path'
import readline from 'node:readline'
import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { delay, f, int, MB, verdict } from '../bench-util'
import { isFake, readLaunches } from '../fake-vllm'
import { bench, type EngineView, type Service } from '../launcher'
import { ENDPOINT, inputFile, jobSettings, launchService, serviceSetup, type Options } from './setup'
import { jobTimeoutMs, newWatch, pollJob, rateOf } from './watch'

/**
 * (c) Resume: an N-request job, SIGKILL of the service once half is committed (its engine, in its own
 *     process group, keeps running), restart on the same data dir: times from the restart's spawn to
 *     "listening", to the engine's launch and readiness (GET /api/engine startedAt/readyAt, the service's
 *     clock), and to the first request the NEW engine answers (the first line of a request log the new
 *     engine alone writes: FAKE_VLLM_REQUEST_LOG points at a fresh file for the second service). Then the
 *     job must complete with exactly N unique, correct results (the output file is streamed, not held).
 */

const RESUME_W = 64
const RESUME_COMMIT_ROWS = 200 // the service's default VBS_COMMIT_ROWS
const RESUME_LOAD_MS = 100

const TARGET_RESUME_MS = 3_000

interface RequestLogLine {
  path: string
  status: number | null
  aborted: boolean
  n: number | null
  at: string
}

/** The first line of a JSONL file once it has one (bounded), parsed. */
async function firstLine<T>(file: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let fd: number | null = null
    try {
      fd = fs.openSync(file, 'r')
      const buf = Buffer.alloc(4096)
      const n = fs.readSync(fd, buf, 0, buf.length, 0)
      const text = buf.subarray(0, n).toString('utf8')
      const nl = text.indexOf('\n')
      if (nl > 0) return JSON.parse(text.slice(0, nl)) as T
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    } finally {
      if (fd !== null) fs.closeSync(fd)
    }
    if (Date.now() > deadline) throw new Error(`nothing in ${file} within ${timeoutMs / 1000} s`)
    await delay(5)
  }
}

/** Streams a request log: inference requests answered 200, and all inference requests. */
async function countRequests(file: string): Promise<{ ok: number; all: number; aborted: number }> {
  const out = { ok: 0, all: 0, aborted: 0 }
  if (!fs.existsSync(file)) return out
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })
  for await (const row of rl) {
    if (!row) continue
    const r = JSON.parse(row) as RequestLogLine
    if (r.path !== ENDPOINT) continue
    out.all += 1
    if (r.status === 200) out.ok += 1
    if (r.aborted) out.aborted += 1
  }
  return out
}

/** The service's engine-log notes (`[vllm-batch-server] <ISO time> <message>`) from engine.log and its rotations. */
function engineNotes(dataDir: string): { at: number; message: string }[] {
  const dir = path.join(dataDir, 'logs')
  let names: string[]
  try {
    names = fs.readdirSync(dir).filter((n) => n.startsWith('engine.log'))
  } catch {
    return []
  }
  const notes: { at: number; message: string }[] = []
  for (const name of names) {
    const text = fs.readFileSync(path.join(dir, name), 'utf8')
    for (const m of text.matchAll(/^\[vllm-batch-server\] (\S+) (.*)$/gm)) notes.push({ at: Date.parse(m[1]), message: m[2] })
  }
  return notes.sort((a, b) => a.at - b.at)
}

/** Streams the output file: lines, distinct custom_ids, and lines whose content is not the expected echo. */
async function checkOutput(service: Service, fileId: string): Promise<{ lines: number; unique: number; wrong: number; bytes: number }> {
  const res = await fetch(`${service.url}/v1/files/${fileId}/content`, { headers: { authorization: `Bearer ${service.key}` } })
  if (!res.ok || !res.body) throw new Error(`GET /v1/files/${fileId}/content: ${res.status}`)
  const stream = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>)
  let bytes = 0
  stream.on('data', (c: Buffer) => (bytes += c.length))
  const rl = readline.createInterface({ input: stream, crlfDelay: Infinity })
  const ids = new Set<string>()
  let lines = 0
  let wrong = 0
  for await (const row of rl) {
    if (!row) continue
    lines += 1
    const r = JSON.parse(row) as { custom_id: string; response: { status_code: number; body: { choices: { message: { content: string } }[] } } | null }
    ids.add(r.custom_id)
    const expected = `echo: hi ${r.custom_id.slice(2)}`
    if (r.response?.status_code !== 200 || r.response.body.choices[0]?.message.content !== expected) wrong += 1
  }
  return { lines, unique: ids.size, wrong, bytes }
}

export async function benchResume(o: Options): Promise<void> {
  const lines = o.lines
  console.error(`(c) ${int(lines)} requests, W=${RESUME_W}, kill -9 at half, restart`)
  const input = await inputFile(lines)
  const setup = serviceSetup(jobSettings(lines, RESUME_W), { FAKE_VLLM_LATENCY_MS: '0', FAKE_VLLM_LOAD_MS: String(RESUME_LOAD_MS) })
  const log1 = path.join(setup.gpuDir, 'requests-1.jsonl')
  const log2 = path.join(setup.gpuDir, 'requests-2.jsonl')

  bench.step = '(c) starting the first service'
  const first = await launchService(setup, o, { FAKE_VLLM_REQUEST_LOG: log1 })
  const openai = first.openai()
  bench.step = '(c) uploading'
  const file = await openai.files.create({ file: fs.createReadStream(input.path), purpose: 'batch' })
  const batch = await openai.batches.create({ input_file_id: file.id, endpoint: ENDPOINT, completion_window: '24h' })
  bench.step = '(c) running the first half'
  const w1 = newWatch()
  const atKill = await pollJob(first, batch.id, w1, jobTimeoutMs(lines), (job) => (job.progress?.completed ?? 0) >= lines / 2)
  const firstLaunch = readLaunches(setup.launchLog)[0]
  await first.kill()
  const rate1 = rateOf(w1)
  const oldEngineAlive = firstLaunch !== undefined && isFake(firstLaunch.pid)
  await delay(300) // the old engine notices its clients are gone; its log settles

  bench.step = '(c) restarting the service'
  const second = await launchService(setup, o, { FAKE_VLLM_REQUEST_LOG: log2 })
  const restartAt = second.spawnedAt
  const listeningMs = (second.listeningAt as number) - restartAt

  bench.step = '(c) waiting for the new engine'
  let engine: EngineView
  const engineDeadline = Date.now() + 60_000
  for (;;) {
    const e = await second.api<EngineView>('/api/engine')
    if (e.state === 'ready' && e.readyAt !== null && e.startedAt !== null && e.startedAt >= restartAt) {
      engine = e
      break
    }
    if (Date.now() > engineDeadline) throw new Error(`the engine was not ready 60 s after the restart (state ${e.state}: ${e.lastError ?? ''})`)
    await delay(10)
  }
  const firstRequest = await firstLine<RequestLogLine>(log2, 60_000)
  const firstRequestMs = Date.parse(firstRequest.at) - restartAt
  const notes = engineNotes(setup.dataDir).filter((n) => n.at >= restartAt)
  const endingNote = notes.find((n) => n.message.startsWith('ending engine pid'))
  const launchingNote = notes.find((n) => n.message.startsWith('launching '))
  const launches = readLaunches(setup.launchLog)
  const newLaunch = launches.find((l) => Date.parse(l.at) >= restartAt)
  const oldEngineGone = firstLaunch !== undefined && !isFake(firstLaunch.pid) && !isFake(firstLaunch.engine_pid)

  bench.step = '(c) running the rest'
  const w2 = newWatch()
  const final = await pollJob(second, batch.id, w2, jobTimeoutMs(lines), (job) => job.status === 'completed')
  const rate2 = rateOf(w2)
  bench.step = '(c) reading the output file'
  const counts = final.request_counts
  if (!final.output_file_id) throw new Error(`batch ${batch.id} completed without an output file`)
  const out = await checkOutput(second, final.output_file_id)
  bench.step = '(c) stopping the service'
  await second.stop()
  const sent1 = await countRequests(log1)
  const sent2 = await countRequests(log2)
  const killedAt = atKill.progress?.completed ?? 0
  const resent = sent1.ok + sent2.ok - lines

  console.log('')
  console.log(`### (c) Resume: ${int(lines)} requests, W = ${RESUME_W}, engine latency 0 ms, fake engine load ${RESUME_LOAD_MS} ms (FAKE_VLLM_LOAD_MS)`)
  console.log('')
  console.log('| requests | committed at kill -9 | restart -> listening ms | -> old engine ended (note) ms | -> engine launched ms | -> engine ready ms | -> first new request at the engine ms | results lines | unique custom_ids | wrong | counts |')
  console.log('|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--|')
  const rel = (at: number | null | undefined): string => (at === null || at === undefined ? 'n/a' : String(at - restartAt))
  console.log(
    `| ${int(lines)} | ${int(killedAt)} | ${listeningMs} | ${rel(endingNote?.at)} | ${rel(engine.startedAt)} | ${rel(engine.readyAt)} | **${firstRequestMs}** | ${int(out.lines)} | ${int(out.unique)} | ${out.wrong} | ${counts ? `${counts.completed}/${counts.total}, failed ${counts.failed}` : 'n/a'} |`,
  )
  console.log('')
  console.log(
    `- times from the restart's spawn (Date.now() in this script) to: the "listening on" line; the service's engine-log note "ending engine pid ..." (the old engine, ` +
      `still running after the kill: ${oldEngineAlive ? 'yes' : 'no'}, ended after the restart: ${oldEngineGone ? 'yes' : 'NO'}); the new engine's startedAt/readyAt (GET /api/engine); ` +
      `the first line of the new engine's own request log (written when that request ended).`,
  )
  console.log(
    `- new engine: launch note ${rel(launchingNote?.at)} ms, the fake's API server logged its start at ${newLaunch ? rel(Date.parse(newLaunch.at)) : 'n/a'} ms; ` +
      `the old engine ${firstLaunch ? `pid ${firstLaunch.pid}` : 'n/a'}, the new one ${newLaunch ? `pid ${newLaunch.pid}` : 'n/a'}`,
  )
  console.log(
    `- requests answered by the engines: ${int(sent1.ok)} before the kill (+${sent1.aborted} aborted by it), ${int(sent2.ok)} after; sent again: ${int(resent)} ` +
      `(bound: W + commit rows = ${RESUME_W + RESUME_COMMIT_ROWS}) ${resent >= 0 && resent <= RESUME_W + RESUME_COMMIT_ROWS ? 'ok' : 'OUT OF BOUND'}`,
  )
  console.log(
    `- rates (as in (a), with the fake's request log on): before the kill ${f(rate1.rps, 0)} req/s, after the restart ${f(rate2.rps, 0)} req/s; output file ${f(out.bytes / MB)} MB`,
  )
  const exact = out.lines === lines && out.unique === lines && out.wrong === 0 && counts?.completed === lines && counts.failed === 0
  console.log(`target: restart -> first new request at the engine < ${TARGET_RESUME_MS} ms: ${firstRequestMs} ms ${verdict(firstRequestMs < TARGET_RESUME_MS)}`)
  console.log(`check: exactly ${int(lines)} unique, correct results: ${exact ? 'yes' : 'NO'}`)
  if (!exact) throw new Error(`the resumed job's output is wrong: ${out.lines} lines, ${out.unique} unique, ${out.wrong} wrong, counts ${JSON.stringify(counts)}`)
}
