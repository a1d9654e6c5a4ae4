import http from 'node:http'
import type { Service } from '../launcher'

/** GET /api/events (SSE), for the moment a batch completes: no polling load on the service. */

export interface SseEvent {
  event: string
  data: unknown
  at: number
}

export class EventStream {
  private req: http.ClientRequest | null = null
  private buffer = ''
  private listeners: ((e: SseEvent) => void)[] = []
  readonly opened: Promise<void>

  constructor(service: Service) {
    this.opened = new Promise((resolve, reject) => {
      const req = http.get(`${service.url}/api/events`, { headers: { authorization: `Bearer ${service.key}`, accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET /api/events: ${res.statusCode}`))
          res.resume()
          return
        }
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => this.feed(chunk))
        res.on('error', () => undefined)
      })
      req.on('error', (err) => reject(err))
      this.req = req
      // resolved by the server's first event ('hello')
      const onHello = (e: SseEvent): void => {
        if (e.event === 'hello') {
          this.off(onHello)
          resolve()
        }
      }
      this.on(onHello)
    })
  }

  on(l: (e: SseEvent) => void): void {
    this.listeners.push(l)
  }
  off(l: (e: SseEvent) => void): void {
    this.listeners = this.listeners.filter((x) => x !== l)
  }

  private feed(chunk: string): void {
    const at = Date.now()
    this.buffer += chunk
    let cut: number
    while ((cut = this.buffer.indexOf('\n\n')) !== -1) {
      const block = this.buffer.slice(0, cut)
      this.buffer = this.buffer.slice(cut + 2)
      let event = 'message'
      let data = ''
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7)
        else if (line.startsWith('data: ')) data += line.slice(6)
      }
      if (!data) continue
      let parsed: unknown
      try {
        parsed = JSON.parse(data)
      } catch {
        continue
      }
      for (const l of [...this.listeners]) l({ event, data: parsed, at })
    }
  }

  close(): void {
    this.req?.destroy()
  }
}
