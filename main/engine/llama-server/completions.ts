import type { LlamaModel, Token } from 'node-llama-cpp'
import { badRequest } from '../../api-error'
import { describeType } from '../../api-params'
import { readJsonBody } from './http'
import { checkTokens, fitMaxTokens, parseCommon, requireObjectBody } from './params'
import { grammarFor } from './response-format'
import type { RouteContext } from './route-context'
import { serveGeneration } from './serve-generation'

/** POST /v1/completions: raw text in, text out; the prompt is tokenized as llama.cpp's server does (BOS first). */
export async function textCompletions(ctx: RouteContext): Promise<void> {
  const body = requireObjectBody(await readJsonBody(ctx.req))
  const prompt = promptTokens(ctx.runtime.model, body.prompt)
  if (body.echo === true) throw badRequest("'echo' is not supported by the llama.cpp engine.", 'unsupported_parameter', 'echo')
  if (typeof body.suffix === 'string' && body.suffix !== '') throw badRequest("'suffix' is not supported by the llama.cpp engine.", 'unsupported_parameter', 'suffix')
  const params = parseCommon(body, ['max_tokens'])
  const grammar = await grammarFor(ctx.runtime, body.response_format)
  // OpenAI's default for text completions is 16 tokens.
  const maxTokens = fitMaxTokens(prompt.length, params.maxTokens ?? 16, ctx.runtime.contextSize, 'prompt')
  await serveGeneration(ctx, { kind: 'text', prompt, params, maxTokens, stop: params.sampling.stop, grammar })
}

function promptTokens(model: LlamaModel, prompt: unknown): Token[] {
  if (prompt === undefined || prompt === null) throw badRequest("Missing required parameter: 'prompt'.", 'missing_required_parameter', 'prompt')
  let text: string | undefined
  let tokens: Token[] | undefined
  if (typeof prompt === 'string') text = prompt
  else if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string') text = prompt[0]
  else if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((t) => typeof t === 'number')) tokens = checkTokens(model, prompt, 'prompt')
  else if (Array.isArray(prompt) && prompt.length === 1 && Array.isArray(prompt[0])) tokens = checkTokens(model, prompt[0], 'prompt[0]')
  else if (Array.isArray(prompt) && prompt.length > 1) {
    throw badRequest("Invalid 'prompt': the llama.cpp engine takes one prompt per request; send one request per prompt.", 'invalid_value', 'prompt')
  } else {
    throw badRequest(`Invalid type for 'prompt': expected a string or an array of one string, but got ${describeType(prompt)}.`, 'invalid_type', 'prompt')
  }
  if (tokens) return tokens
  const out = model.tokenize(text!)
  const bos = model.tokens.bos
  if (bos !== null && model.tokens.shouldPrependBosToken) out.unshift(bos)
  if (out.length === 0) throw badRequest("Invalid 'prompt': it is empty.", 'invalid_value', 'prompt')
  return out
}
