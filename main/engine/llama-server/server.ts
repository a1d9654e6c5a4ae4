import http from 'node:http'
import { ApiError } from '../../api-error'
import { bearerMatches } from '../../config/api-key'
import { chatCompletions } from './chat'
import { textCompletions } from './completions'
import { embeddings } from './embeddings'
import { clientGone, sendError, sendJson } from './http'
import type { Metrics } from './metrics'
import type { Route, RouteContext } from './route-context'
import type { Runtime } from './runtime'
import { PoolClosedError } from './sequence-pool'

/**
 * The OpenAI-compatible HTTP server around one loaded model. It is only created once the model is loaded
 * (as vLLM does, nothing listens during loading), so GET /health answering 200 means ready.
 */
export interface LlamaHttpServer {
  server: http.Server
  /** Stops accepting, aborts every request in flight and closes the connections. */
  shutdown: () => void
}

export interface LlamaHttpOptions {
  /** Required as `Authorization: Bearer <key>` on /v1/* (not /health, /metrics), as `vllm serve --api-key`; null: open. */
  apiKey?: string | null
}

export function createLlamaHttpServer(runtime: Runtime, metrics: Metrics, servedModelName: string, options: LlamaHttpOptions = {}): LlamaHttpServer {
  const apiKey = options.apiKey ?? null
  const stopping = new AbortController()

  const startedAt = Math.floor(Date.now() / 1000)
  const models: Route = async ({ res }) =>
    sendJson(res, 200, {
      object: 'list',
      data: [{ id: servedModelName, object: 'model', created: startedAt, owned_by: 'llama.cpp', root: servedModelName, parent: null, max_model_len: runtime.contextSize }],
    })

  const routes: Record<string, Route> = {
    'GET /health': async ({ res }) => {
      res.writeHead(200, { 'content-length': 0 })
      res.end()
    },
    'GET /v1/models': models,
    'GET /metrics': async ({ res }) => {
      const text = metrics.render(runtime.pool)
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text) })
      res.end(text)
    },
    'POST /v1/chat/completions': chatCompletions,
    'POST /v1/completions': textCompletions,
    'POST /v1/embeddings': embeddings,
  }

  const server = http.createServer((req, res) => {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const pathname = q === -1 ? url : url.slice(0, q)
    // Before routing, as vLLM's middleware: without the key nothing under /v1 is even told apart.
    if (apiKey !== null && pathname.startsWith('/v1') && !bearerMatches(req.headers.authorization, apiKey)) {
      req.resume()
      return sendError(res, new ApiError(401, 'This engine needs its key: send Authorization: Bearer <key>.', { code: 'invalid_api_key' }))
    }
    const route = routes[`${req.method} ${pathname}`]
    const ctx: RouteContext = {
      req,
      res,
      runtime,
      metrics,
      servedModelName,
      signal: AbortSignal.any([clientGone(res), stopping.signal]),
    }
    if (!route) {
      req.resume()
      const known = Object.keys(routes).some((k) => k.endsWith(` ${pathname}`))
      return sendError(res, known ? new ApiError(405, `${req.method} is not allowed on ${pathname}.`, { code: 'method_not_allowed' }) : new ApiError(404, `Not found: ${req.method} ${pathname}.`, { code: 'not_found' }))
    }
    if (stopping.signal.aborted) {
      req.resume()
      return sendError(res, new ApiError(503, 'The llama.cpp engine is shutting down.', { code: 'shutting_down' }))
    }
    route(ctx).catch((err: unknown) => {
      if (ctx.signal.aborted && !(err instanceof ApiError)) {
        if (!res.headersSent && stopping.signal.aborted) sendError(res, new ApiError(503, 'The llama.cpp engine is shutting down.', { code: 'shutting_down' }))
        else if (!res.writableEnded) res.destroy()
        return
      }
      if (err instanceof PoolClosedError) return sendError(res, new ApiError(503, 'The llama.cpp engine is shutting down.', { code: 'shutting_down' }))
      sendError(res, err)
    })
  })
  // Keep-alive connections from the service's proxy; a request is never cut short by a timeout here.
  server.requestTimeout = 0
  server.headersTimeout = 60_000

  return {
    server,
    shutdown: () => {
      stopping.abort(new Error('the server is shutting down'))
      runtime.pool.close()
      server.close()
      server.closeAllConnections()
    },
  }
}
