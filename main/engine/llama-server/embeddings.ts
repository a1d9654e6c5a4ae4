import os from 'node:os'
import type { Token } from 'node-llama-cpp'
import { badRequest } from '../../api-error'
import { describeType } from '../../api-params'
import { readJsonBody, sendJson } from './http'
import { checkTokens, requireObjectBody } from './params'
import type { RouteContext } from './route-context'

/**
 * POST /v1/embeddings on a lazily created embedding context. Inputs are embedded one after another (the
 * embedding context has one sequence); usage counts each input's tokens as the context sees them.
 */
export async function embeddings(ctx: RouteContext): Promise<void> {
  const body = requireObjectBody(await readJsonBody(ctx.req))
  const inputs = parseInput(ctx, body.input)
  const format = body.encoding_format ?? 'float'
  if (format !== 'float' && format !== 'base64') {
    throw badRequest(`Invalid 'encoding_format': ${JSON.stringify(format)} is not one of 'float', 'base64'.`, 'invalid_value', 'encoding_format')
  }
  if (body.dimensions !== undefined && body.dimensions !== null) {
    throw badRequest("'dimensions' is not supported by the llama.cpp engine.", 'unsupported_parameter', 'dimensions')
  }
  const context = await ctx.runtime.embeddings()
  let promptTokens = 0
  inputs.forEach((input, i) => {
    const n = context.calculateInputLength(input)
    if (n >= ctx.runtime.contextSize) {
      throw badRequest(
        `This model's maximum context length is ${ctx.runtime.contextSize} tokens. However, input ${i} has ${n} tokens. Please reduce the length of the input.`,
        'context_length_exceeded',
        inputs.length === 1 ? 'input' : `input[${i}]`,
      )
    }
    promptTokens += n
  })
  const data: { object: 'embedding'; index: number; embedding: number[] | string }[] = []
  for (let i = 0; i < inputs.length; i++) {
    if (ctx.signal.aborted) return
    const { vector } = await context.getEmbeddingFor(inputs[i])
    data.push({ object: 'embedding', index: i, embedding: format === 'base64' ? toBase64(vector) : [...vector] })
  }
  sendJson(ctx.res, 200, { object: 'list', data, model: ctx.servedModelName, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } })
}

/** OpenAI's base64 encoding: the little-endian float32 bytes. */
function toBase64(vector: readonly number[]): string {
  const floats = Float32Array.from(vector)
  const bytes = Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength)
  if (os.endianness() === 'BE') bytes.swap32()
  return bytes.toString('base64')
}

function parseInput(ctx: RouteContext, input: unknown): (string | Token[])[] {
  if (input === undefined || input === null) throw badRequest("Missing required parameter: 'input'.", 'missing_required_parameter', 'input')
  const empty = (param: string): never => {
    throw badRequest(`Invalid '${param}': it is empty; embeddings need some text.`, 'invalid_value', param)
  }
  if (typeof input === 'string') return [input === '' ? empty('input') : input]
  if (!Array.isArray(input) || input.length === 0) {
    throw badRequest(`Invalid type for 'input': expected a string or a non-empty array of strings, but got ${describeType(input)}.`, 'invalid_type', 'input')
  }
  if (input.every((v) => typeof v === 'number')) return [checkTokens(ctx.runtime.model, input, 'input')]
  return input.map((v: unknown, i) => {
    if (typeof v === 'string') return v === '' ? empty(`input[${i}]`) : v
    if (Array.isArray(v)) return checkTokens(ctx.runtime.model, v, `input[${i}]`)
    throw badRequest(`Invalid type for 'input[${i}]': expected a string, but got ${describeType(v)}.`, 'invalid_type', `input[${i}]`)
  })
}
