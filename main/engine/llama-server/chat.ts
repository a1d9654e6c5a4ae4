import type { ChatHistoryItem, LlamaModel, LlamaText, Token } from 'node-llama-cpp'
import { badRequest } from '../../api-error'
import { describeType } from '../../api-params'
import { readJsonBody } from './http'
import { fitMaxTokens, parseCommon, requireObjectBody } from './params'
import { grammarFor } from './response-format'
import type { RouteContext } from './route-context'
import type { NodeLlamaCpp } from './runtime'
import { serveGeneration } from './serve-generation'

/**
 * POST /v1/chat/completions. Messages become node-llama-cpp chat history and are rendered with the chat
 * wrapper it resolved from the GGUF's template; usage counts the rendered prompt's tokens.
 */
export async function chatCompletions(ctx: RouteContext): Promise<void> {
  const body = requireObjectBody(await readJsonBody(ctx.req))
  const history = toChatHistory(body.messages)
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    throw badRequest("'tools' (function calling) is not supported by the llama.cpp engine.", 'unsupported_parameter', 'tools')
  }
  const params = parseCommon(body, ['max_completion_tokens', 'max_tokens'])
  const grammar = await grammarFor(ctx.runtime, body.response_format)

  const { lib, model, chatWrapper } = ctx.runtime
  let state: ReturnType<typeof chatWrapper.generateContextState>
  try {
    state = chatWrapper.generateContextState({ chatHistory: history })
  } catch (err) {
    throw badRequest(`The model's chat template could not render these messages: ${(err as Error).message}`, 'invalid_value', 'messages')
  }
  const prompt = state.contextText.tokenize(model.tokenizer)
  const maxTokens = fitMaxTokens(prompt.length, params.maxTokens, ctx.runtime.contextSize, 'messages')
  const turnEnd = stopTriggers(lib, model, state.stopGenerationTriggers)
  await serveGeneration(ctx, {
    kind: 'chat',
    prompt,
    params,
    maxTokens,
    stop: [...params.sampling.stop, ...turnEnd.strings],
    stopTokens: turnEnd.tokens,
    grammar,
  })
}

const ROLES = new Set(['system', 'developer', 'user', 'assistant'])

export function toChatHistory(messages: unknown): ChatHistoryItem[] {
  if (messages === undefined || messages === null) throw badRequest("Missing required parameter: 'messages'.", 'missing_required_parameter', 'messages')
  if (!Array.isArray(messages)) {
    throw badRequest(`Invalid type for 'messages': expected an array, but got ${describeType(messages)}.`, 'invalid_type', 'messages')
  }
  if (messages.length === 0) throw badRequest("Invalid 'messages': empty array. Expected an array with minimum length 1.", 'empty_array', 'messages')
  const history: ChatHistoryItem[] = []
  messages.forEach((m: unknown, i) => {
    const at = `messages[${i}]`
    if (typeof m !== 'object' || m === null || Array.isArray(m)) {
      throw badRequest(`Invalid type for '${at}': expected an object, but got ${describeType(m)}.`, 'invalid_type', at)
    }
    const { role, content } = m as Record<string, unknown>
    if (typeof role !== 'string') throw badRequest(`Missing required parameter: '${at}.role'.`, 'missing_required_parameter', `${at}.role`)
    if (!ROLES.has(role)) {
      throw badRequest(
        `Invalid '${at}.role': '${role}' is not supported by the llama.cpp engine (use system, developer, user or assistant).`,
        'invalid_value',
        `${at}.role`,
      )
    }
    const text = contentText(content, `${at}.content`, role === 'assistant')
    if (role === 'user') history.push({ type: 'user', text })
    else if (role === 'assistant') history.push({ type: 'model', response: [text] })
    else history.push({ type: 'system', text })
  })
  // The empty model turn asks the template for the generation prompt.
  history.push({ type: 'model', response: [] })
  return history
}

function contentText(content: unknown, param: string, nullable: boolean): string {
  if (typeof content === 'string') return content
  if ((content === null || content === undefined) && nullable) return ''
  if (content === undefined || content === null) throw badRequest(`Missing required parameter: '${param}'.`, 'missing_required_parameter', param)
  if (!Array.isArray(content)) {
    throw badRequest(`Invalid type for '${param}': expected a string or an array of content parts, but got ${describeType(content)}.`, 'invalid_type', param)
  }
  return content
    .map((part: unknown, j) => {
      const p = part as Record<string, unknown> | null
      if (typeof p !== 'object' || p === null || Array.isArray(p)) {
        throw badRequest(`Invalid type for '${param}[${j}]': expected an object, but got ${describeType(part)}.`, 'invalid_type', `${param}[${j}]`)
      }
      if (p.type !== 'text') {
        throw badRequest(`Invalid '${param}[${j}].type': only 'text' parts are supported by the llama.cpp engine, got ${JSON.stringify(p.type)}.`, 'invalid_value', `${param}[${j}].type`)
      }
      if (typeof p.text !== 'string') {
        throw badRequest(`Invalid type for '${param}[${j}].text': expected a string, but got ${describeType(p.text)}.`, 'invalid_type', `${param}[${j}].text`)
      }
      return p.text
    })
    .join('\n')
}

/** The template's turn-end triggers: plain texts become stop strings, single special tokens stop tokens. */
function stopTriggers(lib: NodeLlamaCpp, model: LlamaModel, triggers: readonly LlamaText[]): { strings: string[]; tokens: Set<Token> } {
  const strings: string[] = []
  const tokens = new Set<Token>()
  for (const trigger of triggers) {
    const values = trigger.values
    if (values.length > 0 && values.every((v): v is string => typeof v === 'string')) {
      strings.push(values.join(''))
      continue
    }
    const ids = lib.LlamaText(trigger).tokenize(model.tokenizer)
    if (ids.length === 1 && !model.isEogToken(ids[0])) tokens.add(ids[0])
  }
  return { strings, tokens }
}
