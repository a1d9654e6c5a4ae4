import Router from '@koa/router'
import type { Context } from 'koa'
import { ApiError, badRequest } from '../../api-error'
import { describeType } from '../../api-params'
import type { Settings } from '../../config/settings'
import type { Engine, EngineTicket } from '../../engine/engine'
import type { RequestCounters } from '../request-counters'
import { sanitizeEngineBody } from '../../engine/request-policy'
import { upstreamRequest } from '../../engine/upstream'
import { readJsonBodySized } from '../json-body'
import { WaitingBodies } from '../waiting-bodies'
import type { AppState } from '../middleware'

export const INFERENCE_PATHS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'] as const

/**
 * The real-time OpenAI API, proxied to the engine: every field passed through (vLLM's extras too), an alias
 * rewritten to the served name, interactive priority set, SSE streamed through chunk by chunk, and the
 * engine's request aborted when the client goes away.
 */
export function inferenceRouter(deps: { settings: Settings; engine: Engine; stats: RequestCounters; waiting: WaitingBodies }): Router<AppState> {
  const { settings, engine, stats, waiting } = deps
  const router = new Router<AppState>()
  for (const path of INFERENCE_PATHS) {
    router.post(path, async (ctx) => {
      const { body, bytes } = await readJsonBodySized(ctx, settings.maxInferenceBodyBytes, 'VBS_MAX_INFERENCE_BODY_BYTES')
      if (body.model === undefined || body.model === null || body.model === '') {
        throw badRequest("Missing required parameter: 'model'.", 'missing_required_parameter', 'model')
      }
      if (typeof body.model !== 'string') {
        throw badRequest(`Invalid type for 'model': expected a string, but got ${describeType(body.model)}.`, 'invalid_type', 'model')
      }
      // The client is gone if its connection closes before our answer is out (not merely after it).
      const gone = new AbortController()
      const onClose = (): void => {
        if (!ctx.res.writableFinished) gone.abort()
      }
      ctx.req.once('close', onClose)
      ctx.res.once('close', onClose)
      // While a model loads, the parsed body is held here: bounded (503 at once past the bound), see WaitingBodies.
      const leave = waiting.enter(bytes)
      let ticket: EngineTicket
      try {
        ticket = await engine.acquire(body.model, gone.signal)
      } finally {
        leave()
      }
      sanitizeEngineBody(body, ticket.target)
      body.model = ticket.target.served
      if (ticket.target.priority) body.priority = settings.interactivePriority
      try {
        await forward(ctx, ticket, path, Buffer.from(JSON.stringify(body)), gone.signal, settings.retryAfterSeconds)
        stats.record(path, ctx.status)
      } catch (err) {
        ticket.release()
        stats.record(path, err instanceof ApiError ? err.status : 500)
        throw err
      }
    })
  }
  return router
}

/** Sends the request to the engine and hands its response to Koa as a stream; the ticket is released when it ends. */
function forward(ctx: Context, ticket: EngineTicket, path: string, payload: Buffer, gone: AbortSignal, retryAfterSeconds: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const upstream = upstreamRequest(
      ticket.target.url(path),
      {
        method: 'POST',
        headers: {
          ...ticket.target.headers,
          'content-type': 'application/json',
          'content-length': payload.length,
          accept: ctx.get('accept') || '*/*',
          'x-request-id': ctx.state.requestId,
        },
      },
      (res) => {
        let done = false
        const finish = (): void => {
          if (done) return
          done = true
          ticket.release()
        }
        res.once('end', finish)
        res.once('close', finish)
        res.once('error', finish)
        ctx.status = res.statusCode ?? 502
        const type = res.headers['content-type']
        if (type) ctx.set('content-type', type)
        if (type?.startsWith('text/event-stream')) {
          ctx.set('cache-control', 'no-cache')
          ctx.set('x-accel-buffering', 'no')
          // Koa pipes the stream as it comes, and destroys it (closing the engine's request) if the client leaves.
          ctx.body = res
          resolve()
          return
        }
        // A whole JSON answer is passed on whole, with its length: cheaper than re-chunking a small body.
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.once('end', () => {
          ctx.body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
          if (type) ctx.set('content-type', type)
          resolve()
        })
        res.once('error', (err) => reject(err))
      },
    )
    const onGone = (): void => {
      upstream.destroy()
    }
    gone.addEventListener('abort', onGone, { once: true })
    upstream.once('close', () => gone.removeEventListener('abort', onGone))
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (gone.aborted) return reject(new ApiError(408, 'The client closed the request.', { code: 'client_closed' }))
      reject(
        new ApiError(503, `The engine did not answer (${err.code ?? err.message}); it may be restarting. Try again shortly.`, {
          code: 'engine_unavailable',
          headers: { 'retry-after': String(retryAfterSeconds) },
        }),
      )
    })
    upstream.end(payload)
  })
}
