import type OpenAI from 'openai'
import { f } from '../bench-util'
import { bench, type Service } from '../launcher'
import { cpuDelta, cpuOf, type Cpu } from '../proc-memory'
import { measuredRun, type Direct, type DirectFigures } from './direct'
import { plainTarget, rawStream, runToChild, type ChildFigures } from './plain-client'
import { toggleProfiles } from './profiling'
import type { DirectRound, ServiceRound } from './rounds'
import { col, medianOf, MODEL_ID, mr, SINGLE_REQUESTS, SINGLE_TOKENS, type Options } from './setup'

/**
 * (c) Single stream: 8 requests of 128 tokens, one at a time: through /v1/chat/completions of the service
 *     (non-streamed, and streamed with include_usage, with the SDK), client-side wall time over the 8 requests;
 *     against LlamaChat and the server's loop on one sequence of the same P-sequence context in this process.
 *     Diagnostics: whole answers straight to the child's port; streamed with a plain node:http client (chunks
 *     counted, not parsed) through the service and straight to the child.
 */

export interface SingleFigures {
  tokens: number
  wallS: number
  tps: number
  /** Mean time to the first content chunk (streamed only), ms. */
  ttftMs: number | null
  serviceCpu: Cpu
  engineCpu: Cpu
}

async function runSingleService(service: Service, prompts: readonly string[], stream: boolean, profile = false): Promise<SingleFigures> {
  const openai = service.openai()
  bench.step = `single stream through the service (${stream ? 'streamed' : 'whole'})`
  let tokens = 0
  let ttft = 0
  if (profile) await toggleProfiles(service)
  const serviceCpu0 = cpuOf(service.pid)
  const engineCpu0 = cpuOf(service.enginePid)
  const t0 = performance.now()
  for (const content of prompts) {
    const body = { model: MODEL_ID, messages: [{ role: 'user' as const, content }], temperature: 0, max_tokens: SINGLE_TOKENS }
    if (!stream) {
      const r = await openai.chat.completions.create(body)
      if (r.usage?.completion_tokens !== SINGLE_TOKENS) throw new Error(`single: ${r.usage?.completion_tokens} completion tokens, not ${SINGLE_TOKENS}`)
      tokens += r.usage.completion_tokens
    } else {
      const start = performance.now()
      let first: number | null = null
      let usage: OpenAI.CompletionUsage | null = null
      const s = await openai.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } })
      for await (const c of s) {
        if (first === null && c.choices[0]?.delta?.content) first = performance.now()
        if (c.usage) usage = c.usage
      }
      if (usage?.completion_tokens !== SINGLE_TOKENS) throw new Error(`single (streamed): ${usage?.completion_tokens} completion tokens, not ${SINGLE_TOKENS}`)
      tokens += usage.completion_tokens
      ttft += (first ?? performance.now()) - start
    }
  }
  const wallS = (performance.now() - t0) / 1000
  const serviceCpu = cpuDelta(serviceCpu0, cpuOf(service.pid))
  const engineCpu = cpuDelta(engineCpu0, cpuOf(service.enginePid))
  if (profile) await toggleProfiles(service)
  return { tokens, wallS, tps: tokens / wallS, ttftMs: stream ? ttft / prompts.length : null, serviceCpu, engineCpu }
}

/** Diagnostics of (c) streamed: the requests one at a time with the plain client, through the service or straight to the child. */
async function runRawStreams(service: Service, prompts: readonly string[], maxTokens: number, toChild: boolean): Promise<SingleFigures> {
  bench.step = `streamed with a plain client ${toChild ? "straight to the engine child's port" : 'through the service'}`
  const { base, headers } = await plainTarget(service, toChild)
  let tokens = 0
  const serviceCpu0 = cpuOf(service.pid)
  const engineCpu0 = cpuOf(service.enginePid)
  const t0 = performance.now()
  for (const content of prompts) {
    const n = await rawStream(base, headers, content, maxTokens)
    tokens += n
  }
  const wallS = (performance.now() - t0) / 1000
  return {
    tokens,
    wallS,
    tps: tokens / wallS,
    ttftMs: null,
    serviceCpu: cpuDelta(serviceCpu0, cpuOf(service.pid)),
    engineCpu: cpuDelta(engineCpu0, cpuOf(service.enginePid)),
  }
}

/**
 * Each path of (c) once (the first request down a path pays for its JIT): streamed with the SDK, and the
 * diagnostics' plain client, through the service and to the child.
 */
export async function warmSinglePaths(service: Service): Promise<void> {
  const openai = service.openai()
  const s = await openai.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'hello' }], temperature: 0, max_tokens: SINGLE_TOKENS, stream: true, stream_options: { include_usage: true } })
  for await (const c of s) void c
  await runRawStreams(service, ['hello'], SINGLE_TOKENS, false)
  await runRawStreams(service, ['hello'], SINGLE_TOKENS, true)
  await runToChild(service, ['hello'], SINGLE_TOKENS, 1)
  await runToChild(service, ['hello'], SINGLE_TOKENS, 1, undefined, false, false)
}

/** (c) of one round, the service's side. */
export interface ServiceSingleRound {
  whole: SingleFigures | null
  streamed: SingleFigures | null
  /** Diagnostics with the plain node:http client: straight to the child's port, and through the service. */
  childSingle: ChildFigures | null
  plainWhole: ChildFigures | null
  rawStreamed: SingleFigures | null
  childStreamed: SingleFigures | null
}

export const NO_SERVICE_SINGLE: ServiceSingleRound = { whole: null, streamed: null, childSingle: null, plainWhole: null, rawStreamed: null, childStreamed: null }

/** --repeat K of each, whole and streamed taking turns; the round keeps the medians. */
export async function measureServiceSingles(service: Service, singlePrompts: readonly string[], o: Options, round: number): Promise<ServiceSingleRound> {
  const wholes: SingleFigures[] = []
  const streams: SingleFigures[] = []
  const childSingles: ChildFigures[] = []
  const plainWholes: ChildFigures[] = []
  const rawStreams: SingleFigures[] = []
  const childStreams: SingleFigures[] = []
  for (let k = 0; k < o.repeat; k++) {
    const turn = (round + k) % 2 === 1
    if (turn) wholes.push(await runSingleService(service, singlePrompts, false))
    streams.push(await runSingleService(service, singlePrompts, true, k === 0))
    if (!turn) wholes.push(await runSingleService(service, singlePrompts, false))
    plainWholes.push(await runToChild(service, singlePrompts, SINGLE_TOKENS, 1, undefined, false, false))
    childSingles.push(await runToChild(service, singlePrompts, SINGLE_TOKENS, 1))
    rawStreams.push(await runRawStreams(service, singlePrompts, SINGLE_TOKENS, false))
    childStreams.push(await runRawStreams(service, singlePrompts, SINGLE_TOKENS, true))
  }
  return {
    whole: medianOf(wholes),
    streamed: medianOf(streams),
    childSingle: medianOf(childSingles),
    plainWhole: medianOf(plainWholes),
    rawStreamed: medianOf(rawStreams),
    childStreamed: medianOf(childStreams),
  }
}

/** (c) of one round, the direct side. */
export interface DirectSingleRound {
  singleChat: DirectFigures | null
  singleLoop: DirectFigures | null
}

export const NO_DIRECT_SINGLE: DirectSingleRound = { singleChat: null, singleLoop: null }

/** K of each way on one sequence, taking turns. */
export async function measureDirectSingles(d: Direct, singlePrompts: readonly string[], o: Options, round: number): Promise<DirectSingleRound> {
  const run = measuredRun(d, o, round)
  const singleChats: DirectFigures[] = []
  const singleLoops: DirectFigures[] = []
  for (let k = 0; k < o.repeat; k++) {
    const chatFirst = (round + k) % 2 === 1
    if (chatFirst) singleChats.push(await run('chat', singlePrompts, SINGLE_TOKENS, 1, k))
    singleLoops.push(await run('loop', singlePrompts, SINGLE_TOKENS, 1, k))
    if (!chatFirst) singleChats.push(await run('chat', singlePrompts, SINGLE_TOKENS, 1, k))
  }
  return { singleChat: medianOf(singleChats), singleLoop: medianOf(singleLoops) }
}

/** The (c) tables. */
export function reportSingle(o: Options, sr: readonly ServiceRound[], dr: readonly DirectRound[]): void {
  const whole = sr.map((r) => r.whole)
  const streamed = sr.map((r) => r.streamed)
  const sChat = dr.map((r) => r.singleChat)
  const sLoop = dr.map((r) => r.singleLoop)
  console.log('')
  console.log(`### (c) single stream: ${SINGLE_REQUESTS} requests × ${SINGLE_TOKENS} tokens, one at a time`)
  console.log('')
  console.log('| | tokens/s, median (range) | time s | ratio to the faster direct (per round, median) | notes |')
  console.log('|---|--:|--:|--:|---|')
  const best = (i: number): number => Math.max(sChat[i]?.tps ?? NaN, sLoop[i]?.tps ?? NaN)
  const ratio = (xs: ({ tps: number } | null)[]): string => mr(xs.map((x, i) => (x ? x.tps / best(i) : NaN)), 3)
  console.log(`| service /v1/chat/completions, whole | **${mr(col(whole, (x) => x.tps))}** | ${mr(col(whole, (x) => x.wallS), 2)} | ${ratio(whole)} | client wall over the ${SINGLE_REQUESTS} requests |`)
  console.log(
    `| service /v1/chat/completions, streamed | **${mr(col(streamed, (x) => x.tps))}** | ${mr(col(streamed, (x) => x.wallS), 2)} | ${ratio(streamed)} | time to first chunk ${mr(col(streamed, (x) => x.ttftMs ?? NaN), 1)} ms |`,
  )
  console.log(`| direct LlamaChat, one sequence | **${mr(col(sChat, (x) => x.tps))}** | ${mr(col(sChat, (x) => x.wallS), 2)} | | of the same ${o.parallel}-sequence context |`)
  console.log(`| direct server loop, one sequence | **${mr(col(sLoop, (x) => x.tps))}** | ${mr(col(sLoop, (x) => x.wallS), 2)} | | |`)
  const cs = sr.map((r) => r.childSingle)
  console.log(`| diagnostic: straight to the engine child's port, whole | ${mr(col(cs, (x) => x.tps))} | ${mr(col(cs, (x) => x.wallS), 2)} | ${ratio(cs)} | no service in between |`)
  const pw = sr.map((r) => r.plainWhole)
  console.log(`| diagnostic: whole through the service, plain node:http client | ${mr(col(pw, (x) => x.tps))} | ${mr(col(pw, (x) => x.wallS), 2)} | ${ratio(pw)} | no SDK |`)
  const rs = sr.map((r) => r.rawStreamed)
  const chs = sr.map((r) => r.childStreamed)
  console.log(
    `| diagnostic: streamed through the service, plain node:http client | ${mr(col(rs, (x) => x.tps))} | ${mr(col(rs, (x) => x.wallS), 2)} | ${ratio(rs)} | chunks counted, not parsed: no SDK cost; service CPU ${mr(col(rs, (x) => x.serviceCpu.total ?? NaN), 2)} s |`,
  )
  console.log(`| diagnostic: streamed straight to the engine child's port, plain client | ${mr(col(chs, (x) => x.tps))} | ${mr(col(chs, (x) => x.wallS), 2)} | ${ratio(chs)} | no service, no SDK |`)
  console.log('')
  console.log('| (c) per round | whole tokens/s | streamed | child port | direct LlamaChat | direct loop | CPU s service whole / streamed | CPU s engine whole / streamed / child port | CPU s direct LlamaChat / loop |')
  console.log('|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
  sr.forEach((s, i) => {
    console.log(
      `| ${i + 1} | ${f(s.whole?.tps, 0)} | ${f(s.streamed?.tps, 0)} | ${f(s.childSingle?.tps, 0)} | ${f(dr[i].singleChat?.tps, 0)} | ${f(dr[i].singleLoop?.tps, 0)} | ` +
        `${f(s.whole?.serviceCpu.total, 2)} / ${f(s.streamed?.serviceCpu.total, 2)} | ${f(s.whole?.engineCpu.total, 2)} / ${f(s.streamed?.engineCpu.total, 2)} / ${f(s.childSingle?.engineCpu.total, 2)} | ` +
        `${f(dr[i].singleChat?.cpu.total, 2)} / ${f(dr[i].singleLoop?.cpu.total, 2)} |`,
    )
  })
}
