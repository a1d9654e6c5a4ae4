import type { Middleware } from 'koa'
import type { Logger } from 'pino'
import { ApiError } from '../api-error'
import { keysMatch } from '../config/api-key'
import { newRequestId } from '../store/ids'

export interface AppState {
  requestId: string
}

/** Gives every response an `x-request-id` (the client's own, if it sent a sane one). */
export function requestId(): Middleware<AppState> {
  return async (ctx, next) => {
    const given = ctx.get('x-request-id')
    ctx.state.requestId = /^[A-Za-z0-9._-]{1,128}$/.test(given) ? given : newRequestId()
    ctx.set('x-request-id', ctx.state.requestId)
    await next()
  }
}

/**
 * Turns every failure into OpenAI's envelope {"error": {message, type, param, code}} with the right status,
 * and answers unknown routes the same way. Nothing below it writes an error body of its own.
 */
export function errorEnvelope(log: Logger): Middleware<AppState> {
  return async (ctx, next) => {
    try {
      await next()
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new ApiError(404, `Unknown request URL: ${ctx.method} ${ctx.path}.`, { code: 'unknown_url' })
      }
    } catch (err) {
      const apiError = toApiError(err)
      if (apiError.status >= 500) log.error({ err, requestId: ctx.state.requestId }, 'request failed')
      ctx.status = apiError.status
      for (const [k, v] of Object.entries(apiError.headers)) ctx.set(k, v)
      ctx.body = apiError.toJSON()
    }
  }
}

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err
  const e = err as { status?: unknown; expose?: unknown; message?: unknown; headers?: Record<string, string> }
  // Errors from Koa and its router (405, 413, malformed URLs) carry a status and a safe message.
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && e.expose) {
    return new ApiError(e.status, String(e.message), { code: null, headers: e.headers })
  }
  return new ApiError(500, 'The server had an error while processing your request. Its log has the details.', {
    code: 'server_error',
  })
}

/** Every route behind this needs `Authorization: Bearer <key>`. */
export function requireApiKey(apiKey: () => string): Middleware<AppState> {
  return async (ctx, next) => {
    const header = ctx.get('authorization')
    const match = /^Bearer\s+(.+)$/i.exec(header)
    if (!match) {
      throw new ApiError(
        401,
        "You didn't provide an API key. Send it in the Authorization header as 'Bearer <key>'; the server prints where its key is kept when it starts.",
        { code: 'invalid_api_key' },
      )
    }
    if (!keysMatch(match[1].trim(), apiKey())) {
      throw new ApiError(401, 'Incorrect API key provided.', { code: 'invalid_api_key' })
    }
    await next()
  }
}
