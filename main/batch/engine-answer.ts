import type { Usage } from '../store/results-repo'

/** What is read of an engine's answer once, as it is committed: the counts, the text a person reads, why it ended. */
export interface Answer {
  usage: Usage
  /** The generated text (chat: the message content; completions: the text), or a note for embeddings. */
  text: string | null
  finishReason: string | null
}

const EMPTY_USAGE: Usage = { input: 0, cached: 0, output: 0, reasoning: 0 }

type Json = Record<string, unknown>
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0)

/** Reads a successful answer of /v1/chat/completions, /v1/completions or /v1/embeddings. Never throws. */
export function readAnswer(body: string | null): Answer {
  let parsed: unknown
  try {
    parsed = body === null ? null : JSON.parse(body)
  } catch {
    return { usage: EMPTY_USAGE, text: body, finishReason: null }
  }
  if (!isRecord(parsed)) return { usage: EMPTY_USAGE, text: null, finishReason: null }
  return { usage: usageOf(parsed.usage), ...textOf(parsed) }
}

function usageOf(u: unknown): Usage {
  if (!isRecord(u)) return EMPTY_USAGE
  const details = (v: unknown, key: string): number => (isRecord(v) ? num(v[key]) : 0)
  return {
    input: num(u.prompt_tokens),
    cached: details(u.prompt_tokens_details, 'cached_tokens'),
    output: num(u.completion_tokens),
    reasoning: details(u.completion_tokens_details, 'reasoning_tokens'),
  }
}

function textOf(answer: Json): { text: string | null; finishReason: string | null } {
  if (answer.object === 'list' && Array.isArray(answer.data)) {
    const first = answer.data[0]
    const dims = isRecord(first) && Array.isArray(first.embedding) ? first.embedding.length : 0
    return { text: `${answer.data.length} embedding${answer.data.length === 1 ? '' : 's'} of ${dims} dimensions`, finishReason: null }
  }
  const choice = Array.isArray(answer.choices) ? answer.choices[0] : undefined
  if (!isRecord(choice)) return { text: null, finishReason: null }
  const finishReason = typeof choice.finish_reason === 'string' ? choice.finish_reason : null
  if (typeof choice.text === 'string') return { text: choice.text, finishReason }
  const message = choice.message
  if (!isRecord(message)) return { text: null, finishReason }
  if (typeof message.content === 'string') return { text: message.content, finishReason }
  if (Array.isArray(message.tool_calls) && message.tool_calls.length > 0) return { text: JSON.stringify(message.tool_calls), finishReason }
  return { text: null, finishReason }
}

/** The text of a request a person would search for: the chat messages' text, the prompt, or the input. */
export function promptText(body: unknown): string {
  if (!isRecord(body)) return ''
  const parts: string[] = []
  const add = (v: unknown): void => {
    if (typeof v === 'string') parts.push(v)
    else if (Array.isArray(v)) for (const x of v) add(isRecord(x) ? (typeof x.text === 'string' ? x.text : undefined) : x)
  }
  if (Array.isArray(body.messages)) for (const m of body.messages) if (isRecord(m)) add(m.content)
  add(body.prompt)
  add(body.input)
  return parts.join('\n')
}
