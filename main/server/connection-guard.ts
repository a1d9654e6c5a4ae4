import type http from 'node:http'
import type net from 'node:net'
import type { Logger } from 'pino'
import { ApiError } from '../api-error'
import { clientKey } from './client-address'
import { rawErrorResponse } from './client-error'

export interface ConnectionGuardOptions {
  maxConnections: number
  maxPerClient: number
  log: Pick<Logger, 'warn'>
  /** Refusals within this long of the first one are logged together, once. */
  burstMs?: number
  /** How long a refused connection may stay open to read its 503 before it is cut. */
  lingerMs?: number
  /** Seconds a refused client is told to wait (Retry-After). */
  retryAfterSeconds?: number
}

/**
 * Caps open connections in total and per client address, so that one LAN host (with or without the key)
 * cannot take every socket the process has. A connection over a cap never reaches the HTTP parser: it is
 * answered 503 with `Connection: close` at once and cut shortly after, and the refusals of a burst are logged
 * once, not once per socket.
 */
export class ConnectionGuard {
  private total = 0
  private readonly perClient = new Map<string, number>()
  private burst: { refused: number; clients: Set<string> } | null = null
  private readonly burstMs: number
  private readonly lingerMs: number
  private readonly retryAfterSeconds: number

  constructor(private readonly o: ConnectionGuardOptions) {
    this.burstMs = o.burstMs ?? 10_000
    this.lingerMs = o.lingerMs ?? 2000
    this.retryAfterSeconds = o.retryAfterSeconds ?? 5
  }

  /** Open connections now: in total, and from one client address. */
  open(address?: string): number {
    return address === undefined ? this.total : (this.perClient.get(clientKey(address)) ?? 0)
  }

  /**
   * Puts the guard in front of the server's own connection handling. The HTTP server's listener is taken off
   * and called only for connections within the caps (a listener added first could not stop it from parsing).
   */
  attach(server: http.Server): void {
    const handlers = server.listeners('connection') as ((socket: net.Socket) => void)[]
    if (handlers.length === 0) throw new Error('ConnectionGuard.attach: the server has no connection listener yet')
    server.removeAllListeners('connection')
    server.on('connection', (socket: net.Socket) => {
      if (!this.admit(socket)) return
      for (const handler of handlers) handler.call(server, socket)
    })
  }

  /** Counts the connection in, or refuses it; false when refused. */
  admit(socket: net.Socket): boolean {
    const client = clientKey(socket.remoteAddress)
    const fromClient = this.perClient.get(client) ?? 0
    const why =
      this.total >= this.o.maxConnections
        ? `the service has ${this.total} connections open, its limit (VBS_MAX_CONNECTIONS)`
        : fromClient >= this.o.maxPerClient
          ? `${client} has ${fromClient} connections open, the limit per client (VBS_MAX_CONNECTIONS_PER_CLIENT)`
          : null
    if (why !== null) {
      this.refuse(socket, client, why)
      return false
    }
    this.total += 1
    this.perClient.set(client, fromClient + 1)
    socket.once('close', () => {
      this.total -= 1
      const left = (this.perClient.get(client) ?? 1) - 1
      if (left > 0) this.perClient.set(client, left)
      else this.perClient.delete(client)
    })
    return true
  }

  private refuse(socket: net.Socket, client: string, why: string): void {
    this.noteRefusal(client, why)
    socket.on('error', () => undefined) // a client that resets is no news
    socket.end(
      rawErrorResponse(
        new ApiError(503, `Too many connections: ${why}. Close idle connections or try again in ${this.retryAfterSeconds} s.`, {
          code: 'too_many_connections',
          headers: { 'Retry-After': String(this.retryAfterSeconds) },
        }),
      ),
    )
    // Whatever the client sends is read and dropped, so that closing does not reset the connection under the
    // answer; a client that keeps the socket open anyway is cut.
    socket.resume()
    const cut = setTimeout(() => socket.destroy(), this.lingerMs)
    cut.unref()
    socket.once('close', () => clearTimeout(cut))
  }

  private noteRefusal(client: string, why: string): void {
    if (this.burst) {
      this.burst.refused += 1
      this.burst.clients.add(client)
      return
    }
    this.o.log.warn({ client }, `connection refused: ${why}`)
    const burst = { refused: 0, clients: new Set<string>() }
    this.burst = burst
    const timer = setTimeout(() => {
      this.burst = null
      if (burst.refused > 0) {
        this.o.log.warn(
          { refused: burst.refused, clients: [...burst.clients].slice(0, 20) },
          `${burst.refused} more connections refused in ${Math.round(this.burstMs / 1000)} s: over the connection limits`,
        )
      }
    }, this.burstMs)
    timer.unref()
  }
}
