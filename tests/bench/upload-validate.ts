/**
 * Benchmark: upload a large batch input file through the official `openai` SDK and time the server's
 * validation + indexing, while sampling the service process's memory.
 *
 *   npx tsx tests/bench/upload-validate.ts [--lines N]      (default 200000 lines of ~500 bytes = ~100 MB)
 *
 * The real service runs as a child process (`npm run serve`'s command, read from package.json) on a fresh temp data dir. It runs
 * the script in a child `node`, so the process measured is the one that holds the listening socket,
 * found under the spawned pid through /proc. It is a benchmark, not a test: a missed target is reported
 * as MISS, and the exit status is non-zero only when something broke.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { once } from 'node:events'
import OpenAI from 'openai'
import { commandLine, findListeningProcess, processTree, readStatusKb, resetPeakRss, RssSampler } from './proc-memory'
import { serveArgs } from '../helpers/serve-command'
import { delay, describeError, Tail, within } from './bench-util'
import { prng } from '../helpers/prng'

const DEFAULT_LINES = 200_000
const MB = 1_000_000 // decimal megabytes, as the ~100 MB target is stated
const TARGET_VALIDATE_MBPS = 50
const TARGET_RSS_GROWTH_MB = 150
const SAMPLE_MS = 50
const POLL_MS = 20
const LISTEN_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 15_000
const KILL_TIMEOUT_MS = 5_000
/** Idle time after start before the baseline is read, so start-up work has settled. */
const SETTLE_MS = 1_000
const MODEL = 'gemma-3-12b'
const ENDPOINT = '/v1/chat/completions'

const repoRoot = path.resolve(path.dirname(process.argv[1] ?? '.'), '..', '..')

interface Options {
  lines: number
}

function parseArgs(argv: readonly string[]): Options {
  let lines = DEFAULT_LINES
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    let value: string | undefined
    if (arg === '--lines') value = argv[++i]
    else if (arg.startsWith('--lines=')) value = arg.slice('--lines='.length)
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: npx tsx tests/bench/upload-validate.ts [--lines N]')
      process.exit(0)
    } else throw new Error(`unknown argument ${JSON.stringify(arg)} (usage: [--lines N])`)
    const n = Number(value)
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--lines needs a positive integer, got ${JSON.stringify(value)}`)
    lines = n
  }
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
async function writeInput(file: string, lines: number): Promise<number> {
  const random = prng(0x5eed)
  const out = fs.createWriteStream(file)
  const failed = new Promise<never>((_, reject) => out.once('error', reject))
  failed.catch(() => undefined)
  let bytes = 0
  let buffer = ''
  for (let i = 1; i <= lines; i++) {
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
    const line = JSON.stringify(request) + '\n'
    buffer += line
    bytes += Buffer.byteLength(line)
    if (buffer.length >= 1 << 20 || i === lines) {
      if (!out.write(buffer)) await Promise.race([once(out, 'drain'), failed])
      buffer = ''
    }
  }
  out.end()
  await Promise.race([once(out, 'finish'), failed])
  return bytes
}

// ---------------------------------------------------------------------------------------------------
// The service under test
// ---------------------------------------------------------------------------------------------------


/** A launched service: registered for clean-up as soon as it is spawned, before it listens. */
interface ServiceProcess {
  child: ChildProcess
  exited: Promise<void>
  output: Tail
  /** The node process that runs the service and listens (a child of the tsx launcher); set once known. */
  pid: number | null
  url: string | null
}

function launchService(dataDir: string, apiKey: string, maxRequests: number, maxFileBytes: number): ServiceProcess {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('VBS_')) env[k] = v
  Object.assign(env, {
    VBS_DATA_DIR: dataDir,
    VBS_PORT: '0',
    VBS_HOST: '127.0.0.1',
    VBS_API_KEY: apiKey,
    VBS_MODELS: path.join(repoRoot, 'models.yaml'),
    VBS_MAX_REQUESTS_PER_BATCH: String(maxRequests),
    VBS_MAX_QUEUED_REQUESTS: String(Math.max(maxRequests, 1_000_000)),
    VBS_MAX_FILE_BYTES: String(maxFileBytes),
  })
  // `npm run serve`'s command: one node process that runs the service.
  const child = spawn(process.execPath, serveArgs(), { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const output = new Tail()
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', () => resolve()) // never spawned: nothing to wait for
  })
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk))
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk))
  return { child, exited, output, pid: null, url: null }
}

/** Waits (bounded) for the "listening on" line, then finds the process that holds the listening socket. */
async function waitUntilListening(service: ServiceProcess): Promise<void> {
  const { child, output } = service
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = ''
    const finish = (err: Error | null, value = ''): void => {
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      child.off('error', onError)
      child.off('exit', onExit)
      if (err) reject(err)
      else resolve(value)
    }
    const onData = (chunk: Buffer): void => {
      stdout += chunk.toString()
      const match = /listening on (http:\/\/[^\s]+)/.exec(stdout)
      if (match) finish(null, match[1])
    }
    const onError = (err: Error): void => finish(new Error(`cannot start the service: ${err.message}`))
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      finish(new Error(`the service exited before listening (code ${code}, signal ${signal}); output:\n${output}`))
    const timer = setTimeout(
      () => finish(new Error(`the service did not print "listening on" within ${LISTEN_TIMEOUT_MS / 1000} s; output:\n${output}`)),
      LISTEN_TIMEOUT_MS,
    )
    child.stdout?.on('data', onData)
    child.once('error', onError)
    child.once('exit', onExit)
  })
  if (child.pid === undefined) throw new Error('the service has no pid')
  const port = Number(new URL(url).port)
  const pid = findListeningProcess(child.pid, port)
  if (pid === null) {
    throw new Error(`no process under pid ${child.pid} (the launched service) holds a socket listening on port ${port}`)
  }
  service.url = url
  service.pid = pid
}



/**
 * SIGTERM to the launcher (tsx passes it on to the service), a bounded wait, then SIGKILL to whatever is
 * left of the processes started under it (a SIGKILLed launcher would leave its node child running).
 */
async function stopService(service: ServiceProcess): Promise<void> {
  const { child } = service
  const launcher = child.pid
  if (launcher === undefined) return // never spawned
  // The processes we started, with their command lines, so a reused pid is never signalled.
  const started = processTree(launcher).map((pid) => ({ pid, cmd: commandLine(pid) }))
  const stillRunning = (): number[] => started.filter((p) => p.cmd !== '' && commandLine(p.pid) === p.cmd).map((p) => p.pid)

  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  const stopped = await within(service.exited, STOP_TIMEOUT_MS)
  if (!stopped) console.error(`the service did not stop within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM; sending SIGKILL`)
  // After a clean stop the launcher's children are gone too; give them a moment before forcing it.
  if (stopped) {
    for (let waited = 0; stillRunning().length > 0 && waited < KILL_TIMEOUT_MS; waited += 100) await delay(100)
  }
  const left = stillRunning()
  if (left.length === 0) return
  if (stopped) console.error(`processes ${left.join(', ')} outlived the service's launcher; sending SIGKILL`)
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  if (!(await within(service.exited, KILL_TIMEOUT_MS))) console.error(`the launcher ${launcher} did not exit after SIGKILL`)
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

/** What a run has set up, for the clean-up and for saying where a failure happened. */
interface RunContext {
  temps: string[]
  services: ServiceProcess[]
  sampler: RssSampler | null
  step: string
}

async function run(options: Options, ctx: RunContext): Promise<Result> {
  const { lines } = options
  const { temps, services } = ctx
  ctx.step = 'generating the input file'
  const inputDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vbs-bench-input-'))
  temps.push(inputDir)
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vbs-bench-data-'))
  temps.push(dataDir)

  const inputPath = path.join(inputDir, 'input.jsonl')
  let t = performance.now()
  const fileBytes = await writeInput(inputPath, lines)
  const generateS = seconds(t)
  if (fs.statSync(inputPath).size !== fileBytes) throw new Error('the generated file has an unexpected size')
  console.error(`generated ${lines.toLocaleString('en-US')} lines, ${(fileBytes / MB).toFixed(1)} MB in ${generateS.toFixed(1)} s`)

  ctx.step = 'starting the service'
  const apiKey = `bench-${Math.random().toString(36).slice(2)}`
  const service = launchService(dataDir, apiKey, Math.max(lines, 200_000), Math.max(fileBytes * 2, 512 * 1024 * 1024))
  services.push(service) // from here on the clean-up stops it, whatever happens
  await waitUntilListening(service)
  const pid = service.pid as number
  const url = service.url as string
  const command = commandLine(pid)
  console.error(`service at ${url}: launcher pid ${service.child.pid}, measuring pid ${pid} (${command})`)

  ctx.step = 'reading the baseline RSS'
  const sampler = new RssSampler(pid, SAMPLE_MS)
  ctx.sampler = sampler
  sampler.start()
  await delay(SETTLE_MS)
  const baselineKb = readStatusKb(pid, 'VmRSS')
  if (baselineKb === null) throw new Error(`cannot read /proc/${pid}/status`)
  const hwmReset = resetPeakRss(pid)
  sampler.peakKb = baselineKb

  const client = new OpenAI({ apiKey, baseURL: `${url}/v1`, maxRetries: 0, timeout: 10 * 60_000 })

  ctx.step = 'uploading the file'
  sampler.setPhase('upload')
  t = performance.now()
  const file = await client.files.create({ file: fs.createReadStream(inputPath), purpose: 'batch' })
  const uploadS = seconds(t)
  if (file.bytes !== fileBytes) throw new Error(`the server stored ${file.bytes} bytes of the ${fileBytes} uploaded`)
  console.error(`uploaded as ${file.id} in ${uploadS.toFixed(2)} s`)

  ctx.step = 'creating the batch and waiting for in_progress'
  sampler.setPhase('validate')
  t = performance.now()
  let batch = await client.batches.create({ input_file_id: file.id, endpoint: ENDPOINT, completion_window: '24h' })
  const deadline = Date.now() + Math.max(120_000, lines * 2)
  while (batch.status === 'validating') {
    if (Date.now() > deadline) throw new Error(`batch ${batch.id} still validating after ${seconds(t).toFixed(0)} s`)
    await delay(POLL_MS)
    batch = await client.batches.retrieve(batch.id)
  }
  const validateS = seconds(t)
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

  ctx.step = 'stopping the service'
  await stopService(service)
  services.splice(services.indexOf(service), 1)
  const logMs = validateMsFromLog(dataDir, batch.id)

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

const mbOfKb = (kb: number): number => (kb * 1024) / MB

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
    `- validate+index is client-side, batches.create to the first retrieve that shows in_progress (polled every ${POLL_MS} ms)` +
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


/** For an error report: whether the service is still up, and its last output if it is not. */
function serviceState(services: readonly ServiceProcess[]): string {
  const service = services[services.length - 1]
  if (!service) return ''
  const { child, pid } = service
  const serviceGone = pid !== null && commandLine(pid) === ''
  if (child.exitCode === null && child.signalCode === null && !serviceGone) return ''
  const how =
    child.exitCode !== null || child.signalCode !== null
      ? `the service's launcher exited (code ${child.exitCode}, signal ${child.signalCode})`
      : `the service process ${pid} is gone`
  return `\n${how}; its last output:\n${service.output.toString() || '(none)'}`
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2))
  const ctx: RunContext = { temps: [], services: [], sampler: null, step: 'starting' }
  let cleaning: Promise<void> | null = null
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      ctx.sampler?.stop()
      for (const service of ctx.services.splice(0)) await stopService(service)
      for (const dir of ctx.temps.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
    })())
  const onSignal = (signal: NodeJS.Signals): void => {
    console.error(`${signal}: cleaning up`)
    void cleanup().finally(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  let result: Result
  try {
    result = await run(options, ctx)
  } catch (err) {
    // Described before the clean-up, which stops the service and forgets it.
    throw new Error(`while ${ctx.step}: ${describeError(err)}${serviceState(ctx.services)}`, { cause: err })
  } finally {
    await cleanup()
  }
  report(result)
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`upload-validate benchmark failed: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(1)
  },
)
