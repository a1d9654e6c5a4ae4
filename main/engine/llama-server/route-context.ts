import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Metrics } from './metrics'
import type { Runtime } from './runtime'

/** What every route gets: the exchange, the loaded model, the counters, and a signal for "stop working on this". */
export interface RouteContext {
  req: IncomingMessage
  res: ServerResponse
  runtime: Runtime
  metrics: Metrics
  servedModelName: string
  /** Aborted when the client disconnects or the server shuts down. */
  signal: AbortSignal
}

export type Route = (ctx: RouteContext) => Promise<void>
