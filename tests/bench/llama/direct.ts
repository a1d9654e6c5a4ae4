import type { ChatHistoryItem, ChatWrapper, Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp'
import { generate } from '../../../main/engine/llama-server/generate'
import { bench } from '../launcher'
import { cpuDelta, cpuOf, type Cpu } from '../proc-memory'
import { profileSelf } from './profiling'
import { CONTEXT_SIZE, type Options } from './setup'

/**
 * (b) and (c) straight through node-llama-cpp in this process: getLlama({gpu: false, build: 'never'}),
 * loadModel, createContext({sequences: P, threads: 1, contextSize: the service's}), one sequence per worker,
 * cleared between requests as the server's pool does. Two ways a user would do it: LlamaChat per request with
 * the model's chat wrapper (resolveChatWrapper, which the server renders with too), greedy; and the server's
 * own token loop (main/engine/llama-server/generate.ts: sequence.evaluate + detokenize + stop matching) on
 * the prompt and stop triggers the server derives.
 */

type NodeLlamaCpp = typeof import('node-llama-cpp')

let libPromise: Promise<NodeLlamaCpp> | null = null
const loadLib = (): Promise<NodeLlamaCpp> => (libPromise ??= import('node-llama-cpp'))

export interface Direct {
  lib: NodeLlamaCpp
  llama: Llama
  model: LlamaModel
  context: LlamaContext
  sequences: LlamaContextSequence[]
  wrapper: ChatWrapper
  loadMs: number
  dispose: () => Promise<void>
}

/** The model loaded in this process, if any: disposed at the clean-up. */
let loaded: Direct | null = null
let hooked = false

export async function loadDirect(modelFile: string, parallel: number): Promise<Direct> {
  if (!hooked) {
    hooked = true
    bench.onCleanup(async () => {
      if (loaded) await loaded.dispose().catch(() => undefined)
      loaded = null
    })
  }
  const lib = await loadLib()
  const t = performance.now()
  // As the server does (runtime.ts): no GPU, the prebuilt binary, one thread.
  const llama = await lib.getLlama({ gpu: false, build: 'never', maxThreads: 1, logLevel: lib.LlamaLogLevel.warn, progressLogs: false })
  const model = await llama.loadModel({ modelPath: modelFile, gpuLayers: 0 })
  const context = await model.createContext({ sequences: parallel, contextSize: CONTEXT_SIZE, threads: 1 })
  const sequences = Array.from({ length: parallel }, () => context.getSequence())
  const wrapper = lib.resolveChatWrapper(model)
  const direct: Direct = {
    lib,
    llama,
    model,
    context,
    sequences,
    wrapper,
    loadMs: performance.now() - t,
    dispose: async () => {
      await llama.dispose()
    },
  }
  loaded = direct
  return direct
}

/** Disposes of the model loaded in this process. */
export async function disposeDirect(d: Direct): Promise<void> {
  await d.dispose()
  loaded = null
}

export type DirectMode = 'chat' | 'loop'

const historyOf = (content: string): ChatHistoryItem[] => [
  { type: 'user', text: content },
  { type: 'model', response: [] },
]

/** One request on one sequence; returns its completion tokens (and text), checked. Clears the sequence after. */
export async function directRequest(d: Direct, seq: LlamaContextSequence, mode: DirectMode, content: string, maxTokens: number): Promise<{ tokens: number; promptTokens: number; text: string }> {
  const history = historyOf(content)
  const state = d.wrapper.generateContextState({ chatHistory: history })
  const prompt = state.contextText.tokenize(d.model.tokenizer)
  let tokens: number
  let text: string
  if (mode === 'chat') {
    // Counted by the sequence's token meter (tokens sampled): LlamaChat's onToken can miss one it holds back.
    const before = seq.tokenMeter.usedOutputTokens
    const chat = new d.lib.LlamaChat({ contextSequence: seq, chatWrapper: d.wrapper, autoDisposeSequence: false })
    try {
      const r = await chat.generateResponse(history, { maxTokens, temperature: 0 })
      if (r.metadata.stopReason !== 'maxTokens') throw new Error(`LlamaChat stopped by ${r.metadata.stopReason}`)
      tokens = seq.tokenMeter.usedOutputTokens - before
      text = r.response
    } finally {
      chat.dispose({ disposeSequence: false })
    }
  } else {
    // What main/engine/llama-server/chat.ts hands the loop: the template's turn end as stop strings / tokens.
    const stop: string[] = []
    const stopTokens = new Set<Token>()
    for (const trigger of state.stopGenerationTriggers) {
      const values = trigger.values
      if (values.length > 0 && values.every((v): v is string => typeof v === 'string')) stop.push(values.join(''))
      else {
        const ids = d.lib.LlamaText(trigger).tokenize(d.model.tokenizer)
        if (ids.length === 1 && !d.model.isEogToken(ids[0])) stopTokens.add(ids[0])
      }
    }
    const r = await generate(d.lib, seq, { prompt, maxTokens, temperature: 0, stop, stopTokens, signal: new AbortController().signal })
    tokens = r.completionTokens
    text = r.text
  }
  if (tokens !== maxTokens) throw new Error(`direct ${mode}: ${tokens} completion tokens, not ${maxTokens}`)
  await seq.clearHistory()
  return { tokens, promptTokens: prompt.length, text }
}

export interface DirectFigures {
  tokens: number
  promptTokens: number
  wallS: number
  tps: number
  cpu: Cpu
  texts: Map<string, string>
}

/** P workers over the prompts, one sequence each (or one worker on one sequence: sequential). */
export async function runDirect(d: Direct, mode: DirectMode, prompts: readonly string[], maxTokens: number, workers: number): Promise<DirectFigures> {
  bench.step = `direct ${mode}, ${workers} worker(s)`
  let next = 0
  let tokens = 0
  let promptTokens = 0
  const texts = new Map<string, string>()
  const cpu0 = cpuOf(process.pid)
  const t0 = performance.now()
  await Promise.all(
    d.sequences.slice(0, workers).map(async (seq) => {
      for (;;) {
        const i = next++
        if (i >= prompts.length) return
        const r = await directRequest(d, seq, mode, prompts[i], maxTokens)
        tokens += r.tokens
        promptTokens += r.promptTokens
        texts.set(`q-${i + 1}`, r.text)
      }
    }),
  )
  const wallS = (performance.now() - t0) / 1000
  return { tokens, promptTokens, wallS, tps: tokens / wallS, cpu: cpuDelta(cpu0, cpuOf(process.pid)), texts }
}

/** A measured run of round `round`, repeat k: the first repeat with P workers is profiled with --cpu-prof. */
export function measuredRun(d: Direct, o: Options, round: number): (mode: DirectMode, ps: readonly string[], tokens: number, workers: number, k: number) => Promise<DirectFigures> {
  return (mode, ps, tokens, workers, k) =>
    workers > 1 && k === 0 ? profileSelf(`direct-${mode}-round${round}`, o.cpuProfDir, () => runDirect(d, mode, ps, tokens, workers)) : runDirect(d, mode, ps, tokens, workers)
}
