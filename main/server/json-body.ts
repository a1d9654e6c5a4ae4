import type { Context } from 'koa'
import { ApiError, badRequest } from '../api-error'

/**
 * Reads a JSON object body up to `limit` bytes. An empty body counts as `{}` (SDK v4 sends
 * `content-type: application/json` with nothing after it). A body that trickles in is cut off by the
 * slow-body guard (slow-body-guard.ts), which watches every request with a body.
 */
export async function readJsonBody(ctx: Context, limit: number, limitName?: string): Promise<Record<string, unknown>> {
  return (await readJsonBodySized(ctx, limit, limitName)).body
}

/** readJsonBody, also saying how many bytes the body had (what holding it costs). */
export async function readJsonBodySized(ctx: Context, limit: number, limitName?: string): Promise<{ body: Record<string, unknown>; bytes: number }> {
  const declared = Number(ctx.get('content-length') || 0)
  if (declared > limit) throw tooLarge(limit, limitName)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) throw tooLarge(limit, limitName)
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks, size).toString('utf8').trim()
  if (text === '') return { body: {}, bytes: size }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw badRequest(
      'We could not parse the JSON body of your request. The body must be a JSON object.',
      'invalid_json',
      null,
    )
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw badRequest('The body of your request must be a JSON object.', 'invalid_json', null)
  }
  return { body: parsed as Record<string, unknown>, bytes: size }
}

function tooLarge(limit: number, limitName?: string): ApiError {
  return new ApiError(413, `The request body is larger than ${limit} bytes${limitName ? ` (${limitName})` : ''}.`, { code: 'request_too_large' })
}
