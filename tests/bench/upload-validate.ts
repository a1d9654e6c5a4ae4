/**
 * Benchmark: upload a large batch input file through the official `openai` SDK and time the server's
 * validation + indexing, while sampling the service process's memory.
 *
 *   npx tsx tests/bench/upload-validate.ts [--lines N]      (default 200000 lines of ~500 bytes = ~100 MB)
 *
 * The real service runs as a child process (`npm run serve`'s command, read from package.json, started by
 * launcher.ts) on a fresh temp data dir. The process measured is the one that holds the listening socket,
 * found under the spawned pid through /proc. It is a benchmark, not a test: a missed target is reported
 * as MISS, and the exit status is non-zero only when something broke.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseFlags } from './args'
import { delay, MB, mbOfKb, writeLines } from './bench-util'
import { bench, ROOT } from './launcher'
import { commandLine, readStatusKb, resetPeakRss, RssSampler } from './proc-memory'
import { prng } from '../helpers/prng'
import { SseParser } from '../../main/contract/sse'

const DEFAULT_LINES = 200_000
const TARGET_VALIDATE_MBPS = 100
const TARGET_RSS_GROWTH_MB = 150
const SAMPLE_MS = 50
const STOP_TIMEOUT_MS = 15_000
/** Idle time after start before the baseline is read, so start-up work has settled. */
const SETTLE_MS = 1_000
const MODEL = 'gemma-3-12b'
const ENDPOINT = '/v1/chat/completions'

interface Options {
  lines: number
}

function parseArgs(argv: readonly string[]): Options {
  let lines = DEFAULT_LINES
  parseFlags(argv, 'usage: npx tsx tests/bench/upload-validate.ts [--lines N]', {
    '--lines': (v) => {
      const n = Number(v)
      if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--lines needs a positive integer, got ${JSON.stringify(v)}`)
      lines = n
    },
  })
  return { lines }
}

// ---------------------------------------------------------------------------------------------------
// Input generation
// ---------------------------------------------------------------------------------------------------

const WORDS = (
  'the a of to and in is for on that with as by at from this be are was it an or which batch request model ' +
  'token prompt answer summarize translate explain list describe compare write short long story poem code ' +
  'function table data server queue GPU memory latency throughput document paragraph sentence question ' +
  'why how what when where please briefly detail example result value error line file upload validate ' +
  'naïve café résumé façade über déjà-vu 東京 数据 ß ø — “quoted” "plain" tab\tand\nnewline 42 3.14 2025'
).split(' ')

/** Writes `lines` request lines of 450-550 bytes (500 on average) to `file`, streamed. Returns its size. */
function writeInput(file: string, lines: number): Promise<number> {
  const random = prng(0x5eed)
  return writeLines(file, lines, (i) => {
    const request = {
      custom_id: `req-${i}`,
      method: 'POST',
      url: ENDPOINT,
      body: { model: MODEL, messages: [{ role: 'user', content: '' }], max_tokens: 64 },
    }
    const target = 450 + Math.floor(random() * 101) // bytes, newline included
    const skeleton = Buffer.byteLength(JSON.stringify(request)) + 1
    let content = `Request ${i}:`
    let contentBytes = Buffer.byteLength(JSON.stringify(content)) - 2
    for (;;) {
      const word = ' ' + WORDS[Math.floor(random() * WORDS.length)]
      const wordBytes = Buffer.byteLength(JSON.stringify(word)) - 2
      if (skeleton + contentBytes + wordBytes > target) break
      content += word
      contentBytes += wordBytes
    }
    const pad = target - skeleton - contentBytes // ASCII padding makes the length exact
    if (pad > 0) content += '.'.repeat(pad)
    request.body.messages[0].content = content
    return JSON.stringify(request) + '\n'
  })
}

// ---------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------

interface Result {
  lines: number
  fileBytes: number
  generateS: number
  uploadS: number
  validateS: number
  /** From the service's own log: `batch created` to the `-> in_progress` transition. */
  validateLogS: number | null
  baselineKb: number
  peakKb: number
  sampledPeakKb: number
  hwmKb: number | null
  hwmReset: boolean
  endKb: number | null
  uploadPeakKb: number
  validatePeakKb: number
  samples: number
  pid: number
  command: string
}

/**
 * `GET /api/events`, opened before the batch is created: until(id) resolves at the first `batch.status` event that
 * takes that batch out of `validating`.
 */
async function statusEvents(url: string, key: string): Promise<{ until: (id: string, timeoutMs: number) => Promise<void>; close: () => void }> {
  const abort = new AbortController()
  const left = new Map<string, () => void>()
  const seen = new Set<string>()
  await fetch(`${url}/api/events`, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' }, signal: abort.signal }).then(async (res) => {
    if (!res.ok || !res.body) throw new Error(`GET /api/events answered ${res.status}`)
    const parser = new SseParser()
    void (async () => {
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          for (const m of parser.push(chunk)) {
            if (m.event !== 'batch.status') continue
            const { batch } = JSON.parse(m.data) as { batch: { id: string; status: string } }
            if (batch.status === 'validating') continue
            seen.add(batch.id)
            left.get(batch.id)?.()
          }
        }
      } catch {
        // closed
      }
    })()
  })
  return {
    until: async (id, timeoutMs) => {
      if (seen.has(id)) return
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`batch ${id} still validating after ${timeoutMs / 1000} s`)), timeoutMs)
        left.set(id, () => {
          clearTimeout(timer)
          resolve()
        })
      })
    },
    close: () => abort.abort(),
  }
}

interface LogEntry {
  time?: number
  msg?: string
  batch?: string
  to?: string
}

/** Milliseconds from `batch <id> created` to its `in_progress` transition, per the service log. */
function validateMsFromLog(dataDir: string, batchId: string): number | null {
  let text: string
  try {
    text = fs.readFileSync(path.join(dataDir, 'logs', 'service.log'), 'utf8')
  } catch {
    return null
  }
  let created: number | null = null
  let started: number | null = null
  for (const row of text.split('\n')) {
    if (!row.includes(batchId)) continue
    let entry: LogEntry
    try {
      entry = JSON.parse(row) as LogEntry
    } catch {
      continue
    }
    if (typeof entry.time !== 'number') continue
    if (entry.msg === `batch ${batchId} created`) created = entry.time
    if (entry.batch === batchId && entry.to === 'in_progress') started = entry.time
  }
  return created !== null && started !== null ? started - created : null
}

const seconds = (fromMs: number): number => (performance.now() - fromMs) / 1000

async function run(options: Options): Promise<Result> {
  const { lines } = options
  bench.step = 'generating the input file'
  const inputDir = bench.tempDir('vbs-bench-input-')
  const inputPath = path.join(inputDir, 'input.jsonl')
  let t = performance.now()
  const fileBytes = await writeInput(inputPath, lines)
  const generateS = seconds(t)
  if (fs.statSync(inputPath).size !== fileBytes) throw new Error('the generated file has an unexpected size')
  console.error(`generated ${lines.toLocaleString('en-US')} lines, ${(fileBytes / MB).toFixed(1)} MB in ${generateS.toFixed(1)} s`)

  bench.step = 'starting the service'
  const maxRequests = Math.max(lines, 200_000)
  const service = await bench.start({
    stopTimeoutMs: STOP_TIMEOUT_MS,
    env: {
      VBS_MODELS: path.join(ROOT, 'models.yaml'),
      VBS_MAX_REQUESTS_PER_BATCH: String(maxRequests),
      VBS_MAX_QUEUED_REQUESTS: String(Math.max(maxRequests, 1_000_000)),
      VBS_MAX_FILE_BYTES: String(Math.max(fileBytes * 2, 512 * 1024 * 1024)),
    },
  })
  const { pid, url } = service
  const command = commandLine(pid)
  console.error(`service at ${url}: launcher pid ${service.child.pid}, measuring pid ${pid} (${command})`)

  bench.step = 'reading the baseline RSS'
  const sampler = new RssSampler(pid, SAMPLE_MS)
  bench.onCleanup(() => sampler.stop())
  sampler.start()
  await delay(SETTLE_MS)
  const baselineKb = readStatusKb(pid, 'VmRSS')
  if (baselineKb === null) throw new Error(`cannot read /proc/${pid}/status`)
  const hwmReset = resetPeakRss(pid)
  sampler.peakKb = baselineKb

  const client = service.openai()

  bench.step = 'uploading the file'
  sampler.setPhase('upload')
  t = performance.now()
  const file = await client.files.create({ file: fs.createReadStream(inputPath), purpose: 'batch' })
  const uploadS = seconds(t)
  if (file.bytes !== fileBytes) throw new Error(`the server stored ${file.bytes} bytes of the ${fileBytes} uploaded`)
  console.error(`uploaded as ${file.id} in ${uploadS.toFixed(2)} s`)

  bench.step = 'creating the batch and waiting for in_progress'
  sampler.setPhase('validate')
  // The end of validation is told by the service's event stream (as the window and vbs learn it), so the bench
  // adds no load of its own while the service works; a retrieve every POLL_MS would take CPU from it.
  const ended = await statusEvents(url, service.key)
  t = performance.now()
  let batch = await client.batches.create({ input_file_id: file.id, endpoint: ENDPOINT, completion_window: '24h' })
  await ended.until(batch.id, Math.max(120_000, lines * 2))
  const validateS = seconds(t)
  ended.close()
  batch = await client.batches.retrieve(batch.id)
  sampler.setPhase(null)
  sampler.stop()
  const hwmKb = readStatusKb(pid, 'VmHWM')
  const endKb = readStatusKb(pid, 'VmRSS')

  if (batch.status === 'failed') {
    const all = batch.errors?.data ?? []
    const shown = all.slice(0, 20).map((e) => `  line ${e.line ?? '-'} ${e.code}: ${e.message}`)
    if (all.length > shown.length) shown.push(`  ... and ${all.length - shown.length} more`)
    throw new Error(`batch ${batch.id} failed validation:\n${shown.join('\n') || '  (no errors listed)'}`)
  }
  if (batch.status !== 'in_progress') throw new Error(`batch ${batch.id} went to '${batch.status}', not in_progress`)
  const total = batch.request_counts?.total
  if (total !== lines) throw new Error(`batch ${batch.id} counts ${total} requests, expected ${lines}`)
  console.error(`batch ${batch.id} in_progress after ${validateS.toFixed(2)} s with ${total} requests`)

  bench.step = 'stopping the service'
  await service.stop()
  const logMs = validateMsFromLog(service.dataDir, batch.id)

  const sampledPeakKb = sampler.peakKb
  const peakKb = hwmReset && hwmKb !== null ? Math.max(sampledPeakKb, hwmKb) : sampledPeakKb
  return {
    lines,
    fileBytes,
    generateS,
    uploadS,
    validateS,
    validateLogS: logMs === null ? null : logMs / 1000,
    baselineKb,
    peakKb,
    sampledPeakKb,
    hwmKb,
    hwmReset,
    endKb,
    uploadPeakKb: sampler.phasePeakKb.upload,
    validatePeakKb: sampler.phasePeakKb.validate,
    samples: sampler.samples,
    pid,
    command,
  }
}

// ---------------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------------

function report(r: Result): void {
  const fileMb = r.fileBytes / MB
  const validateMbps = fileMb / r.validateS
  const growthMb = mbOfKb(r.peakKb - r.baselineKb)
  const f = (n: number, digits = 1): string => n.toFixed(digits)
  const cpus = os.cpus()
  console.log('')
  console.log(
    `Machine: ${os.availableParallelism()} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), ` +
      `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${os.type()} ${os.release()}`,
  )
  console.log('')
  console.log('| lines | file MB | upload s | upload MB/s | validate+index s | validate MB/s | baseline RSS MB | peak RSS MB | RSS growth MB |')
  console.log('|------:|--------:|---------:|------------:|-----------------:|--------------:|----------------:|------------:|--------------:|')
  console.log(
    `| ${r.lines.toLocaleString('en-US')} | ${f(fileMb)} | ${f(r.uploadS, 2)} | ${f(fileMb / r.uploadS)} | ` +
      `${f(r.validateS, 2)} | ${f(validateMbps)} | ${f(mbOfKb(r.baselineKb))} | ${f(mbOfKb(r.peakKb))} | ${f(growthMb)} |`,
  )
  console.log('')
  console.log('| target | value | result |')
  console.log('|--------|------:|:------:|')
  console.log(`| validation >= ${TARGET_VALIDATE_MBPS} MB/s | ${f(validateMbps)} MB/s | ${validateMbps >= TARGET_VALIDATE_MBPS ? 'PASS' : 'MISS'} |`)
  console.log(`| RSS growth < ${TARGET_RSS_GROWTH_MB} MB | ${f(growthMb)} MB | ${growthMb < TARGET_RSS_GROWTH_MB ? 'PASS' : 'MISS'} |`)
  console.log('')
  console.log('Details:')
  console.log(`- MB = 10^6 bytes. Measured pid ${r.pid}: ${r.command}`)
  console.log(`- input generated in ${f(r.generateS)} s (not part of the figures)`)
  console.log(
    `- validate+index is client-side, batches.create to the batch.status event that ends its validation (the event stream, opened before)` +
      (r.validateLogS === null ? '' : `; the service log says ${f(r.validateLogS, 2)} s (${f(fileMb / r.validateLogS)} MB/s)`),
  )
  console.log(
    `- RSS peak per phase (sampled every ${SAMPLE_MS} ms, ${r.samples} samples): upload ${f(mbOfKb(r.uploadPeakKb))} MB, ` +
      `validate+index ${f(mbOfKb(r.validatePeakKb))} MB; RSS at the end ${r.endKb === null ? 'n/a' : f(mbOfKb(r.endKb))} MB`,
  )
  console.log(
    `- VmHWM at the end ${r.hwmKb === null ? 'n/a' : f(mbOfKb(r.hwmKb))} MB ` +
      (r.hwmReset
        ? '(reset to the baseline before the upload, so it is the true peak of the run; peak RSS = max(sampled, VmHWM))'
        : '(could not be reset, so it includes start-up; peak RSS is the sampled peak)'),
  )
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2))
  const result = await bench.measure(() => run(options))
  report(result)
}

bench.run('upload-validate', main)
