// @vitest-environment happy-dom
import { afterEach, describe, expect, test, vi } from 'vitest'
import { openEventStream, RECONNECT_MAX_MS, type StreamState } from '../../renderer/src/api/event-stream'
import { setApiKey } from '../../renderer/src/api/transport'
import { SseParser, type SseMessage } from '../../renderer/src/sse'
import { FakeService } from './fake-service'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Feeds `text` split at every given offset and collects the messages. */
function parseSplit(text: string | Uint8Array, cuts: number[]): SseMessage[] {
  const all = typeof text === 'string' ? bytes(text) : text
  const parser = new SseParser()
  const out: SseMessage[] = []
  let from = 0
  for (const cut of [...cuts, all.length]) {
    out.push(...parser.push(all.slice(from, cut)))
    from = cut
  }
  return out
}

describe('the SSE parser', () => {
  const stream =
    ': keepalive\n\n' +
    'event: batch.progress\ndata: {"id":"batch_1","progress":{"chunk":1}}\n\n' +
    'event: thermal\r\ndata: {"paused":true,"reason":"paused: GPU 86 °C"}\r\n\r\n' +
    'data: first\ndata: second\n\n' +
    'event: no-data\n\n'

  const expected: SseMessage[] = [
    { event: 'batch.progress', data: '{"id":"batch_1","progress":{"chunk":1}}' },
    { event: 'thermal', data: '{"paused":true,"reason":"paused: GPU 86 °C"}' },
    { event: 'message', data: 'first\nsecond' },
  ]

  test('whole', () => {
    expect(parseSplit(stream, [])).toEqual(expected)
  })

  test('split at every byte: lines, CRLF pairs and the two bytes of ° cut apart', () => {
    const all = bytes(stream)
    expect(parseSplit(all, Array.from({ length: all.length - 1 }, (_, i) => i + 1))).toEqual(expected)
  })

  test('split at every single position, one cut at a time', () => {
    const all = bytes(stream)
    for (let cut = 1; cut < all.length; cut++) expect(parseSplit(all, [cut])).toEqual(expected)
  })

  test('a message is only complete at its blank line', () => {
    const parser = new SseParser()
    expect(parser.push('event: hello\ndata: {"a":1}\n')).toEqual([])
    expect(parser.push('\n')).toEqual([{ event: 'hello', data: '{"a":1}' }])
  })

  test('lone CR line ends, and no space after the colon', () => {
    expect(parseSplit('event:x\rdata:1\r\r', [7])).toEqual([{ event: 'x', data: '1' }])
  })
})

describe('the event stream', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
    vi.useRealTimers()
    setApiKey(null)
  })

  test('sends the key, delivers events, and reconnects with backoff (1 s doubling, at most 30 s) when it drops', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const service = new FakeService().install()
    setApiKey('k')
    const events: string[] = []
    const states: StreamState[] = []
    service.on('GET', '/api/events', () => {
      throw new TypeError('Failed to fetch')
    })
    // First the service is down: every attempt fails, and each waits twice as long as the last.
    const close = openEventStream({ onEvent: (name) => events.push(name), onState: (s) => states.push(s) })
    const delays: number[] = []
    for (let i = 0; i < 7; i++) {
      await vi.advanceTimersByTimeAsync(0)
      const last = states.at(-1)
      expect(last?.state).toBe('waiting')
      if (last?.state === 'waiting') delays.push(last.retryAt - Date.now())
      await vi.advanceTimersByTimeAsync(delays.at(-1) ?? 0)
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, RECONNECT_MAX_MS, RECONNECT_MAX_MS])

    // The service is back: the stream opens and delivers.
    service.on('GET', '/api/events', (call) => {
      const body = new ReadableStream<Uint8Array>({
        start: (c) => {
          c.enqueue(bytes('event: hello\ndata: {}\n\nevent: gpu.sample\ndata: {"at":1}\n\n'))
          call.signal?.addEventListener('abort', () => c.error(new DOMException('aborted', 'AbortError')))
        },
      })
      return new Response(body, { status: 200 })
    })
    await vi.advanceTimersByTimeAsync(RECONNECT_MAX_MS)
    expect(states.at(-1)?.state).toBe('open')
    expect(events).toEqual(['hello', 'gpu.sample'])
    expect(service.callsTo('GET', '/api/events').every((c) => c.authorization === 'Bearer k')).toBe(true)
    close()
  })

  test('a stream that closes is opened again after 1 s, and a 401 ends it', async () => {
    const service = new FakeService().install()
    service.acceptKey = 'k'
    setApiKey('k')
    const states: StreamState[] = []
    const close = openEventStream({ onEvent: () => undefined, onState: (s) => states.push(s) })
    await vi.waitFor(() => expect(service.openStreams).toBe(1))
    service.dropStreams()
    await vi.waitFor(() => expect(states.at(-1)?.state).toBe('waiting'))
    const waiting = states.at(-1)
    expect(waiting?.state === 'waiting' && waiting.retryAt - Date.now()).toBeLessThanOrEqual(1000)
    setApiKey('wrong')
    await vi.waitFor(() => expect(states.at(-1)?.state).toBe('closed'), { timeout: 3000 })
    const attempts = service.callsTo('GET', '/api/events').length
    await new Promise((r) => setTimeout(r, 1200))
    expect(service.callsTo('GET', '/api/events').length).toBe(attempts)
    close()
  })
})
