/**
 * The client of the service's event stream (`GET /api/events`, Server-Sent Events): connects, parses (../sse),
 * detects a silent stream, and reconnects with backoff. What the events do to the stores is ../live.ts.
 */
import { SseParser } from '../sse'
import { ApiError, authHeaders, errorFromBody, unreachableMessage } from './transport'

/** The service sends a keep-alive every 15 s: a stream silent for this long is dead, whatever TCP thinks. */
const STREAM_IDLE_MS = 45_000
/** Reconnecting the event stream: 1 s, doubling, at most 30 s. */
export const RECONNECT_MIN_MS = 1_000
export const RECONNECT_MAX_MS = 30_000

export type StreamState =
  | { state: 'connecting' }
  | { state: 'open' }
  | { state: 'waiting'; retryAt: number; error: string }
  | { state: 'closed' }

export interface EventStreamHandlers {
  onEvent: (name: string, data: unknown) => void
  onState: (state: StreamState) => void
}

/**
 * Reads `GET /api/events` with fetch (EventSource cannot send the Authorization header) and reconnects when
 * it drops, 1 s doubling to 30 s; the delay starts over once a connection delivers an event. A 401 ends it
 * (the page asks for the key). Returns the function that closes it for good.
 */
export function openEventStream(handlers: EventStreamHandlers): () => void {
  let closed = false
  let delay = RECONNECT_MIN_MS
  let controller: AbortController | null = null
  let retryTimer: ReturnType<typeof setTimeout> | undefined

  const connect = async (): Promise<void> => {
    handlers.onState({ state: 'connecting' })
    const ctrl = new AbortController()
    controller = ctrl
    let idleTimer: ReturnType<typeof setTimeout> | undefined
    const touch = (): void => {
      clearTimeout(idleTimer)
      idleTimer = setTimeout(() => ctrl.abort(new DOMException('no data for 45 s', 'TimeoutError')), STREAM_IDLE_MS)
    }
    let error = 'the service closed the event stream'
    try {
      touch()
      const res = await fetch('/api/events', {
        headers: { ...authHeaders(), Accept: 'text/event-stream' },
        cache: 'no-store',
        signal: ctrl.signal,
      })
      if (res.status === 401) {
        errorFromBody(401, await res.text().catch(() => ''), 'GET /api/events')
        closed = true
        handlers.onState({ state: 'closed' })
        return
      }
      if (!res.ok || !res.body) throw errorFromBody(res.status, await res.text().catch(() => ''), 'GET /api/events')
      handlers.onState({ state: 'open' })
      const reader = res.body.getReader()
      const parser = new SseParser()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        touch()
        for (const message of parser.push(value)) {
          delay = RECONNECT_MIN_MS
          let data: unknown
          try {
            data = JSON.parse(message.data)
          } catch {
            continue // not ours
          }
          if (!closed) handlers.onEvent(message.event, data)
        }
      }
    } catch (err) {
      if (closed) return
      error = err instanceof ApiError ? err.message : ctrl.signal.aborted ? 'the event stream went quiet' : unreachableMessage()
    } finally {
      clearTimeout(idleTimer)
    }
    if (closed) return
    const wait = delay
    delay = Math.min(delay * 2, RECONNECT_MAX_MS)
    handlers.onState({ state: 'waiting', retryAt: Date.now() + wait, error })
    retryTimer = setTimeout(() => void connect(), wait)
  }

  void connect()
  return () => {
    closed = true
    clearTimeout(retryTimer)
    controller?.abort()
  }
}
