import { badRequest } from '../../api-error'
import { describeType } from '../../api-params'
import type { LlamaModel, Token } from 'node-llama-cpp'
import type { Sampling } from './generate'

/** The request fields chat and text completions share, checked; each error names its field. */
export type Body = Record<string, unknown>

export interface CommonParams {
  sampling: Omit<Sampling, 'maxTokens'>
  /** null: as many as the context has room for. */
  maxTokens: number | null
  /** Lower is served first (vLLM's priority scheduling); default 0. */
  priority: number
  stream: boolean
  includeUsage: boolean
}

export function requireObjectBody(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest(`The request body must be a JSON object, but got ${describeType(body)}.`, 'invalid_type')
  }
  return body as Body
}

function present(body: Body, key: string): boolean {
  return body[key] !== undefined && body[key] !== null
}

export function optionalNumber(body: Body, key: string, min: number, max: number): number | undefined {
  if (!present(body, key)) return undefined
  const v = body[key]
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw badRequest(`Invalid type for '${key}': expected a number, but got ${describeType(v)}.`, 'invalid_type', key)
  }
  if (v < min || v > max) throw badRequest(`Invalid '${key}': ${v} is not from ${min} to ${max}.`, 'invalid_value', key)
  return v
}

export function optionalInteger(body: Body, key: string, min: number, max: number): number | undefined {
  const v = optionalNumber(body, key, min, max)
  if (v !== undefined && !Number.isInteger(v)) throw badRequest(`Invalid '${key}': expected a whole number, got ${v}.`, 'invalid_value', key)
  return v
}

export function optionalBoolean(body: Body, key: string): boolean | undefined {
  if (!present(body, key)) return undefined
  const v = body[key]
  if (typeof v !== 'boolean') throw badRequest(`Invalid type for '${key}': expected a boolean, but got ${describeType(v)}.`, 'invalid_type', key)
  return v
}

function parseStop(body: Body): string[] {
  if (!present(body, 'stop')) return []
  const v = body.stop
  if (typeof v === 'string') return [v]
  if (Array.isArray(v) && v.every((s): s is string => typeof s === 'string')) return v
  throw badRequest(`Invalid type for 'stop': expected a string or an array of strings, but got ${describeType(v)}.`, 'invalid_type', 'stop')
}

function unsupported(message: string, param: string): never {
  throw badRequest(`${message} is not supported by the llama.cpp engine.`, 'unsupported_parameter', param)
}

export function parseCommon(body: Body, maxTokensKeys: readonly string[]): CommonParams {
  const n = optionalInteger(body, 'n', 1, 128)
  if (n !== undefined && n !== 1) unsupported(`'n' other than 1 (got ${n})`, 'n')
  if (present(body, 'logprobs') && body.logprobs !== false) unsupported("'logprobs'", 'logprobs')
  if (present(body, 'best_of') && body.best_of !== 1) unsupported("'best_of'", 'best_of')
  if (present(body, 'logit_bias') && Object.keys(body.logit_bias as object).length > 0) unsupported("'logit_bias'", 'logit_bias')

  let maxTokens: number | null = null
  for (const key of maxTokensKeys) {
    const v = optionalInteger(body, key, 1, Number.MAX_SAFE_INTEGER)
    if (v !== undefined) {
      maxTokens = v
      break
    }
  }
  const topK = optionalInteger(body, 'top_k', -1, 1_000_000)
  const stream = optionalBoolean(body, 'stream') ?? false
  let includeUsage = false
  if (present(body, 'stream_options')) {
    const so = body.stream_options
    if (typeof so !== 'object' || so === null || Array.isArray(so)) {
      throw badRequest(`Invalid type for 'stream_options': expected an object, but got ${describeType(so)}.`, 'invalid_type', 'stream_options')
    }
    const iu = (so as Body).include_usage
    if (iu !== undefined && iu !== null && typeof iu !== 'boolean') {
      throw badRequest(`Invalid type for 'stream_options.include_usage': expected a boolean, but got ${describeType(iu)}.`, 'invalid_type', 'stream_options.include_usage')
    }
    includeUsage = iu === true
  }
  return {
    sampling: {
      // OpenAI's default temperature is 1.
      temperature: optionalNumber(body, 'temperature', 0, 2) ?? 1,
      topP: optionalNumber(body, 'top_p', 0, 1),
      topK: topK !== undefined && topK > 0 ? topK : undefined,
      minP: optionalNumber(body, 'min_p', 0, 1),
      seed: optionalInteger(body, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
      frequencyPenalty: optionalNumber(body, 'frequency_penalty', -2, 2),
      presencePenalty: optionalNumber(body, 'presence_penalty', -2, 2),
      repetitionPenalty: optionalNumber(body, 'repetition_penalty', 0, 10),
      stop: parseStop(body),
    },
    maxTokens,
    priority: optionalInteger(body, 'priority', -1_000_000, 1_000_000) ?? 0,
    stream,
    includeUsage,
  }
}

/** vLLM's answer when prompt and completion do not fit the model's context. */
export function fitMaxTokens(promptTokens: number, maxTokens: number | null, contextSize: number, param: string): number {
  if (promptTokens >= contextSize) {
    throw badRequest(
      `This model's maximum context length is ${contextSize} tokens. However, your request has ${promptTokens} input tokens. ` +
        `Please reduce the length of the ${param}.`,
      'context_length_exceeded',
      param,
    )
  }
  if (maxTokens === null) return contextSize - promptTokens
  if (promptTokens + maxTokens > contextSize) {
    throw badRequest(
      `This model's maximum context length is ${contextSize} tokens. However, you requested ${promptTokens + maxTokens} tokens ` +
        `(${promptTokens} in the ${param}, ${maxTokens} in the completion). Please reduce the length of the ${param} or the completion.`,
      'context_length_exceeded',
      param,
    )
  }
  return maxTokens
}

/** Token ids given instead of text (prompt, embedding input): whole numbers inside the vocabulary. */
export function checkTokens(model: LlamaModel, values: readonly unknown[], param: string): Token[] {
  const size = vocabularySize(model)
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= size) {
      throw badRequest(`Invalid '${param}[${i}]': ${JSON.stringify(v)} is not a token id of this model (0 to ${size - 1}).`, 'invalid_value', `${param}[${i}]`)
    }
  })
  if (values.length === 0) throw badRequest(`Invalid '${param}': it is empty.`, 'invalid_value', param)
  return values as Token[]
}

function vocabularySize(model: LlamaModel): number {
  const tokens = model.fileInfo.metadata?.tokenizer?.ggml?.tokens
  return Array.isArray(tokens) ? tokens.length : 0
}
