import type { Context, Middleware } from 'koa'
import type { Logger } from 'pino'
import { ApiError } from '../api-error'
import { bearerKey, bearerMatches, keysMatch } from '../config/api-key'
import { insufficientStorage, isNoSpace, megabytes } from '../store/disk-space'
import { newRequestId } from '../store/ids'
import { declaresBody } from './slow-body-guard'

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
 *
 * An answer given before the request's body was read (a 401, a 413 for the declared length, a 421, an unknown
 * URL) closes the connection: otherwise the server would read and drop the rest of the body to keep the
 * connection, and a client could hold the socket by never finishing it.
 */
export function errorEnvelope(log: Logger, disk?: NoSpaceSink): Middleware<AppState> {
  return async (ctx, next) => {
    try {
      await next()
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new ApiError(404, `Unknown request URL: ${ctx.method} ${ctx.path}.`, { code: 'unknown_url' })
      }
    } catch (err) {
      const apiError = toApiError(err, disk)
      if (apiError.status >= 500) {
        // A request whose connection is gone (the client left, or was cut off as too slow) has nobody to answer.
        if (ctx.req.socket.destroyed) log.debug({ err, requestId: ctx.state.requestId }, 'request ended with its connection')
        else log.error({ err, requestId: ctx.state.requestId }, 'request failed')
      }
      ctx.status = apiError.status
      for (const [k, v] of Object.entries(apiError.headers)) ctx.set(k, v)
      ctx.body = apiError.toJSON()
    }
    if (!ctx.req.complete && declaresBody(ctx.req)) ctx.set('connection', 'close')
  }
}

/** The data disk as the envelope needs it: a write that failed for lack of space is remembered (see DiskSpace). */
export interface NoSpaceSink {
  markFull(reason: string): void
  freeBytes(): number
}

function toApiError(err: unknown, disk?: NoSpaceSink): ApiError {
  if (err instanceof ApiError) return err
  // Any write that met a full disk or database (creating a batch, cancelling, deleting): a 507 the client can
  // act on, not a 500. SQLite rolled the statement back, so nothing of it was stored.
  if (isNoSpace(err)) {
    disk?.markFull(`a request could not be saved: ${(err as Error).message}`)
    let free = ''
    try {
      if (disk) free = ` (${megabytes(disk.freeBytes())} free)`
    } catch {
      // the folder cannot be read: say nothing of its space
    }
    return insufficientStorage(
      `The server's data disk is full${free}: your request could not be saved, and nothing of it was stored. ` +
        'Delete files you no longer need (DELETE /v1/files/{file_id}) or free space on the server, then try again.',
    )
  }
  const e = err as { status?: unknown; expose?: unknown; message?: unknown; headers?: Record<string, string> }
  // Errors from Koa and its router (405, 413, malformed URLs) carry a status and a safe message.
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && e.expose) {
    return new ApiError(e.status, String(e.message), { code: null, headers: e.headers })
  }
  return new ApiError(500, 'The server had an error while processing your request. Its log has the details.', {
    code: 'server_error',
  })
}

/** Whether the request carries the right API key (for routes open to all that say more to the key's holder). */
export function presentsApiKey(ctx: Context, apiKey: () => string): boolean {
  return bearerMatches(ctx.get('authorization'), apiKey())
}

/** Every route behind this needs `Authorization: Bearer <key>`. */
export function requireApiKey(apiKey: () => string): Middleware<AppState> {
  return async (ctx, next) => {
    const key = bearerKey(ctx.get('authorization'))
    if (key === null) {
      throw new ApiError(
        401,
        "You didn't provide an API key. Send it in the Authorization header as 'Bearer <key>'; the server prints where its key is kept when it starts.",
        { code: 'invalid_api_key' },
      )
    }
    if (!keysMatch(key, apiKey())) {
      throw new ApiError(401, 'Incorrect API key provided.', { code: 'invalid_api_key' })
    }
    await next()
  }
}
