import type { IncomingMessage, ServerResponse } from 'node:http'
import { ApiError } from '../../api-error'

/** Plain node:http plumbing: JSON bodies with a size cap, JSON and SSE answers, OpenAI's error envelope. */

export const MAX_BODY_BYTES = 32 * 1024 * 1024

export function readJsonBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    // Past the cap the rest is read and dropped rather than the connection cut, so the client gets to read the 413.
    let over = Number(req.headers['content-length']) > limit
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) over = true
      if (!over) chunks.push(chunk)
    })
    req.on('error', reject)
    req.on('end', () => {
      if (over) return reject(new ApiError(413, `The request body is larger than ${limit} bytes.`, { code: 'request_too_large' }))
      const text = Buffer.concat(chunks, size).toString('utf8')
      if (text.trim() === '') return reject(new ApiError(400, 'The request body is empty; send a JSON object.', { code: 'invalid_json' }))
      try {
        resolve(JSON.parse(text))
      } catch (err) {
        reject(new ApiError(400, `The request body is not valid JSON: ${(err as Error).message}.`, { code: 'invalid_json' }))
      }
    })
  })
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err
  const message = err instanceof Error ? err.message : String(err)
  return new ApiError(500, `The llama.cpp engine failed: ${message}`, { code: 'internal_error' })
}

export function sendError(res: ServerResponse, err: unknown): void {
  const e = toApiError(err)
  if (res.headersSent) {
    // A stream already under way: the error goes into it, as vLLM does, and the stream ends.
    if (!res.writableEnded) res.end(`data: ${JSON.stringify(e.toJSON())}\n\ndata: [DONE]\n\n`)
    return
  }
  sendJson(res, e.status, e.toJSON(), e.headers)
}

export function startEventStream(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
  res.flushHeaders()
}

export function sendEvent(res: ServerResponse, json: string): void {
  res.write(`data: ${json}\n\n`)
}

export function endEventStream(res: ServerResponse): void {
  res.end('data: [DONE]\n\n')
}

/** Aborted when the client goes away before the answer is complete (that frees its sequence). */
export function clientGone(res: ServerResponse): AbortSignal {
  const controller = new AbortController()
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('the client disconnected'))
  })
  return controller.signal
}
