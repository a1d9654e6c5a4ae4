import type { LlamaContextSequence, LlamaGrammar, SequenceEvaluateOptions, Token } from 'node-llama-cpp'
import type { NodeLlamaCpp } from './runtime'
import { StopMatcher } from './stop-matcher'

/**
 * The token loop shared by chat and text completions, on one leased sequence: evaluate the prompt, sample,
 * detokenize, find stop strings, count. Kept close to `sequence.evaluate` (no chat session, no context
 * shifting: the caller made sure prompt + max_tokens fits) so the server adds little per token.
 */
export interface Sampling {
  maxTokens: number
  temperature: number
  topP?: number
  topK?: number
  minP?: number
  seed?: number
  frequencyPenalty?: number
  presencePenalty?: number
  repetitionPenalty?: number
  stop: readonly string[]
}

export interface GenerationInput extends Sampling {
  prompt: Token[]
  grammar?: LlamaGrammar
  /** Tokens that end generation like an end-of-generation token (a chat template's turn end). */
  stopTokens?: ReadonlySet<Token>
  signal: AbortSignal
  /** Called with each piece of text as it becomes final (for streaming). */
  onText?: (text: string) => void
}

export type FinishReason = 'stop' | 'length'

export interface GenerationResult {
  text: string
  completionTokens: number
  finishReason: FinishReason
  /** The client went away; nothing should be sent. */
  aborted: boolean
}

/** A piece ending in U+FFFD is part of a multi-byte character; wait (a little) for the rest of it. */
const MAX_PARTIAL_CHARACTER_TOKENS = 4
const REPLACEMENT_CHARACTER = '\uFFFD'

export async function generate(lib: NodeLlamaCpp, sequence: LlamaContextSequence, input: GenerationInput): Promise<GenerationResult> {
  const model = sequence.model
  const grammar = input.grammar
  const stops = new StopMatcher([...input.stop, ...grammarStopStrings(grammar)])
  const trimWhitespace = grammar?.trimWhitespaceSuffix === true
  const generated: Token[] = []
  const options: SequenceEvaluateOptions = {
    temperature: input.temperature,
    topP: input.topP,
    topK: input.topK,
    minP: input.minP,
    seed: input.seed,
    yieldEogToken: true,
  }
  if (grammar) options.grammarEvaluationState = new lib.LlamaGrammarEvaluationState({ model, grammar })
  if (input.frequencyPenalty || input.presencePenalty || (input.repetitionPenalty && input.repetitionPenalty !== 1)) {
    options.repeatPenalty = {
      punishTokens: () => generated,
      maxPunishTokens: input.maxTokens,
      penalty: input.repetitionPenalty ?? 1,
      frequencyPenalty: input.frequencyPenalty,
      presencePenalty: input.presencePenalty,
    }
  }

  const pieces: string[] = []
  let heldWhitespace = ''
  const emit = (text: string): void => {
    if (text === '') return
    if (trimWhitespace) {
      // JSON grammars may end in whitespace that is trimmed at the end: hold it until more text follows.
      const combined = heldWhitespace + text
      const body = combined.trimEnd()
      heldWhitespace = combined.slice(body.length)
      if (body === '') return
      text = body
    }
    pieces.push(text)
    input.onText?.(text)
  }

  let pending: Token[] = []
  let count = 0
  let finishReason: FinishReason = 'length'
  let stoppedByString = false
  let aborted = false
  for await (const token of sequence.evaluate(input.prompt, options)) {
    if (input.signal.aborted) {
      aborted = true
      break
    }
    count++
    if (model.isEogToken(token) || input.stopTokens?.has(token)) {
      finishReason = 'stop'
      break
    }
    pending.push(token)
    const text = model.detokenize(pending, false, generated)
    if (text.endsWith(REPLACEMENT_CHARACTER) && pending.length < MAX_PARTIAL_CHARACTER_TOKENS && count < input.maxTokens) continue
    for (const t of pending) generated.push(t)
    pending = []
    const step = stops.push(text)
    emit(step.text)
    if (step.stopped) {
      finishReason = 'stop'
      stoppedByString = true
      break
    }
    if (count >= input.maxTokens) break
  }
  if (input.signal.aborted) aborted = true
  if (!aborted) {
    if (pending.length > 0) {
      const step = stops.push(model.detokenize(pending, false, generated))
      emit(step.text)
      stoppedByString = step.stopped
    }
    if (!stoppedByString) emit(stops.flush())
  }
  return { text: pieces.join(''), completionTokens: count, finishReason, aborted }
}

function grammarStopStrings(grammar: LlamaGrammar | undefined): string[] {
  if (!grammar) return []
  const out: string[] = []
  for (const trigger of grammar.stopGenerationTriggers) {
    const values: readonly unknown[] = typeof trigger === 'string' ? [trigger] : Array.isArray(trigger) ? trigger : (trigger as { values: readonly unknown[] }).values
    if (values.length > 0 && values.every((v) => typeof v === 'string')) out.push(values.join(''))
  }
  return out
}
