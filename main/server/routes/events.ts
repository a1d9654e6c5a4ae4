import { PassThrough } from 'node:stream'
import Router from '@koa/router'
import { ApiError } from '../../api-error'
import { STREAM_EVENTS, type StreamEventMap, type StreamEventName } from '../../contract/events'
import type { AppState } from '../middleware'
import { health, type StatusDeps } from './status'

const SSE_KEEPALIVE_MS = 15_000
/** An event-stream client that lets this much pile up unread (it stopped reading) is dropped. */
export const SSE_MAX_BUFFERED_BYTES = 1024 * 1024

/**
 * GET /api/events: the service's events as Server-Sent Events (batch status and progress, engine state,
 * downloads, GPU samples, thermal, files, settings), opened with a `hello` holding /health, the engine and the
 * latest GPU sample.
 */
export function eventsRouter(d: StatusDeps): Router<AppState> {
  const router = new Router<AppState>()
  // Each stream holds a socket and a listener on every event: their number is capped, and a client that
  // stops reading is dropped once about SSE_MAX_BUFFERED_BYTES wait for it, instead of the service buffering
  // events for it without end.
  let streams = 0
  router.get('/api/events', (ctx) => {
    if (streams >= d.settings.maxEventStreams) {
      throw new ApiError(503, `${streams} event streams are open, the most this service serves (VBS_MAX_EVENT_STREAMS); close one (another dashboard tab) or try again later.`, {
        code: 'too_many_event_streams',
        headers: { 'retry-after': String(d.settings.retryAfterSeconds) },
      })
    }
    streams += 1
    const stream = new PassThrough()
    const res = ctx.res
    let closed = false
    const buffered = (): number => stream.writableLength + stream.readableLength + res.writableLength
    const send = <K extends StreamEventName>(event: K, data: StreamEventMap[K]): void => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    const write = (text: string): void => {
      if (closed) return
      stream.write(text)
      if (buffered() <= SSE_MAX_BUFFERED_BYTES) return
      d.log.info({ requestId: ctx.state.requestId, client: ctx.req.socket.remoteAddress, buffered: buffered() }, 'event stream dropped: the client stopped reading')
      close()
      ctx.req.socket.destroy()
    }
    // settings.changed carries the service's own settings inside; clients read the view (GET /api/settings).
    const offs = STREAM_EVENTS.map((name) =>
      name === 'settings.changed' ? d.events.on(name, () => send(name, {})) : d.events.on(name, (payload) => send(name, payload)),
    )
    const keepalive = setInterval(() => write(': keepalive\n\n'), SSE_KEEPALIVE_MS)
    const close = (): void => {
      if (closed) return
      closed = true
      streams -= 1
      clearInterval(keepalive)
      for (const off of offs) off()
      stream.end()
    }
    offs.push(d.events.on('service.stopping', close))
    ctx.req.once('close', close)
    res.once('close', close)
    ctx.req.socket.setTimeout(0)
    ctx.type = 'text/event-stream'
    ctx.set('cache-control', 'no-cache')
    ctx.set('x-accel-buffering', 'no')
    ctx.body = stream
    send('hello', { health: health(d), engine: d.engine.status(), gpu: d.gpu.current() })
  })
  return router
}
