/**
 * What a batch request asked and what the engine answered, in a form the window can show: the messages of a
 * chat request as a conversation, the prompt of a completion, and the answer's text. Pure: the shapes are the
 * OpenAI request and response bodies, read defensively (the input line is whatever the user uploaded).
 */

export interface ChatMessage {
  role: string
  /** The message's text; non-text parts (an image, audio) as a short placeholder such as `[image]`. */
  text: string
}

export type Prompt = { kind: 'chat'; messages: ChatMessage[] } | { kind: 'text'; text: string } | { kind: 'none' }

export interface Answer {
  /** The answer's text (chat content, completion text), or a line saying what it is (an embedding). */
  text: string | null
  /** A reasoning model's thinking, when the engine returns it apart. */
  reasoning: string | null
  finishReason: string | null
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** A message's content: a string, or parts ({type: 'text', text} and media). */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content
  if (content === null || content === undefined) return ''
  if (!Array.isArray(content)) return JSON.stringify(content)
  return content
    .map((part) => {
      if (typeof part === 'string') return part
      if (!isRecord(part)) return ''
      if (typeof part.text === 'string') return part.text
      const type = typeof part.type === 'string' ? part.type : 'part'
      return `[${type.replace(/_url$/, '').replace(/^input_/, '')}]`
    })
    .filter((t) => t !== '')
    .join('\n')
}

function toolCalls(calls: unknown): string {
  if (!Array.isArray(calls)) return ''
  return calls
    .map((c) => {
      const fn = isRecord(c) && isRecord(c.function) ? c.function : null
      return fn ? `→ ${String(fn.name ?? 'tool')}(${typeof fn.arguments === 'string' ? fn.arguments : JSON.stringify(fn.arguments ?? {})})` : ''
    })
    .filter((t) => t !== '')
    .join('\n')
}

function message(m: unknown): ChatMessage {
  if (!isRecord(m)) return { role: 'unknown', text: typeof m === 'string' ? m : JSON.stringify(m) }
  const text = [contentText(m.content), toolCalls(m.tool_calls)].filter((t) => t !== '').join('\n')
  return { role: typeof m.role === 'string' ? m.role : 'unknown', text }
}

const textPrompt = (p: unknown): Prompt => {
  if (typeof p === 'string') return { kind: 'text', text: p }
  if (Array.isArray(p) && p.every((x) => typeof x === 'string')) return { kind: 'text', text: p.join('\n\n') }
  return { kind: 'text', text: JSON.stringify(p) }
}

/**
 * The prompt of a request: from the input line ({custom_id, method, url, body}), its body, or what a
 * comparison row carries (the messages array, or the prompt string).
 */
export function promptOf(request: unknown): Prompt {
  if (request === null || request === undefined) return { kind: 'none' }
  if (Array.isArray(request) && request.every(isRecord)) return { kind: 'chat', messages: request.map(message) }
  if (!isRecord(request)) return textPrompt(request)
  const body = isRecord(request.body) ? request.body : request
  if (Array.isArray(body.messages)) return { kind: 'chat', messages: body.messages.map(message) }
  if (body.prompt !== undefined) return textPrompt(body.prompt)
  if (body.input !== undefined) return textPrompt(body.input)
  return { kind: 'none' }
}

/** The model a request line asked for (its body's `model`), if any. */
export function requestModel(request: unknown): string | null {
  return isRecord(request) && isRecord(request.body) && typeof request.body.model === 'string' ? request.body.model : null
}

/** The answer in an engine's response body (chat completion, completion or embeddings). */
export function answerOf(body: unknown): Answer {
  const none: Answer = { text: null, reasoning: null, finishReason: null }
  if (typeof body === 'string') return { ...none, text: body }
  if (!isRecord(body)) return none
  if (Array.isArray(body.choices) && isRecord(body.choices[0])) {
    const choice = body.choices[0]
    const finishReason = typeof choice.finish_reason === 'string' ? choice.finish_reason : null
    if (isRecord(choice.message)) {
      const m = choice.message
      const text = [contentText(m.content), toolCalls(m.tool_calls)].filter((t) => t !== '').join('\n')
      const reasoning = typeof m.reasoning_content === 'string' ? m.reasoning_content : typeof m.reasoning === 'string' ? m.reasoning : null
      return { text, reasoning, finishReason }
    }
    if (typeof choice.text === 'string') return { text: choice.text, reasoning: null, finishReason }
  }
  if (Array.isArray(body.data) && isRecord(body.data[0]) && Array.isArray(body.data[0].embedding)) {
    const n = body.data.length
    return { ...none, text: `${n === 1 ? 'an embedding' : `${n} embeddings`} of ${body.data[0].embedding.length} numbers` }
  }
  return none
}
