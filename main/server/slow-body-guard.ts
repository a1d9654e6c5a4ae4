import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Middleware } from 'koa'
import type { Logger } from 'pino'
import { ApiError } from '../api-error'
import type { AppState } from './middleware'

export interface SlowBodyOptions {
  /** VBS_UPLOAD_MIN_BYTES_PER_SECOND; 0 turns the watchdog off. */
  minBytesPerSecond: number
  /** The rate is averaged over windows this long. */
  windowMs: number
  log: Pick<Logger, 'warn'>
}

/** The default averaging window: long enough for a stall on Wi-Fi, short enough to free a socket soon. */
export const BODY_RATE_WINDOW_MS = 10_000

/** Whether a request says it has a body (a length above zero, or chunked). */
export function declaresBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0
}

/**
 * The minimum-rate watchdog for request bodies (uploads and JSON alike): once per window it looks at the bytes
 * the connection received, and a body arriving slower than the minimum (a huge Content-Length trickled a byte
 * a minute) is answered 408 and its connection closed, which also ends the route reading it (an upload removes
 * its temporary file). A window in which the service itself had not taken what arrived (the body waits in its
 * buffer: back-pressure from the disk, or a route that has not started reading) is not held against the client.
 */
export function slowBodyGuard(o: SlowBodyOptions): Middleware<AppState> {
  return async (ctx, next) => {
    const req = ctx.req
    if (o.minBytesPerSecond <= 0 || req.complete || !declaresBody(req)) return next()
    const socket = req.socket
    const needed = (o.minBytesPerSecond * o.windowMs) / 1000
    let mark = socket.bytesRead
    const timer = setInterval(() => {
      if (req.complete || socket.destroyed) return stop()
      const received = socket.bytesRead - mark
      mark = socket.bytesRead
      if (req.readableLength > 0 || received >= needed) return
      stop()
      const rate = Math.round((received * 1000) / o.windowMs)
      o.log.warn({ requestId: ctx.state.requestId, client: socket.remoteAddress, path: ctx.path, bytesPerSecond: rate }, 'request body too slow: cut off')
      cutOff(req, ctx.res, rate, o)
    }, o.windowMs)
    timer.unref()
    const stop = (): void => clearInterval(timer)
    ctx.res.once('close', stop)
    try {
      await next()
    } finally {
      if (req.complete) stop()
    }
  }
}

/**
 * Answers 408 with `Connection: close` (Node closes the socket once it is sent), cuts the socket if that stalls,
 * and then ends the request stream: Node no longer tracks a request whose answer is out, so without this the
 * route reading it would wait for the rest of the body for ever (and an upload keep its temporary file).
 */
function cutOff(req: IncomingMessage, res: ServerResponse, rate: number, o: SlowBodyOptions): void {
  const socket = res.socket
  if (!socket) return
  res.once('close', () => {
    if (!req.complete) req.destroy()
  })
  if (res.headersSent) {
    socket.destroy() // an answer is already under way: nothing else can be said
    return
  }
  const err = new ApiError(
    408,
    `The request body arrived at ${rate} bytes/s over ${Math.round(o.windowMs / 1000)} s, below the minimum of ${o.minBytesPerSecond} bytes/s (VBS_UPLOAD_MIN_BYTES_PER_SECOND): the server stopped waiting for it. Check the connection and send it again.`,
    { code: 'request_too_slow' },
  )
  const body = JSON.stringify(err.toJSON())
  res.writeHead(408, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' })
  res.end(body)
  const cut = setTimeout(() => socket.destroy(), 2000)
  cut.unref()
  socket.once('close', () => clearTimeout(cut))
}
