import type { EngineTarget } from '../engine/engine-backend'
import { upstreamRequest } from '../engine/upstream'

/** What became of one request sent to the engine. */
export type EngineOutcome =
  | { kind: 'ok'; status: number; body: string }
  /** The engine answered with an error that sending again will not fix (a 4xx other than 408/429). */
  | { kind: 'final'; status: number; body: string }
  /** Worth another attempt: connection refused or reset, a timeout, 408, 429 or 5xx. */
  | { kind: 'transient'; status: number | null; body: string | null; reason: string }

/** POSTs one request body to the engine and classifies the answer. Never throws. */
export function sendToEngine(target: EngineTarget, path: string, payload: Buffer, timeoutMs: number, signal?: AbortSignal): Promise<EngineOutcome> {
  return new Promise((resolve) => {
    let settled = false
    const done = (o: EngineOutcome): void => {
      if (settled) return
      settled = true
      resolve(o)
    }
    const req = upstreamRequest(
      target.url(path),
      { method: 'POST', headers: { ...target.headers, 'content-type': 'application/json', 'content-length': payload.length }, timeout: timeoutMs, signal },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.once('error', (err) => done({ kind: 'transient', status: null, body: null, reason: `the engine's answer broke off: ${err.message}` }))
        res.once('end', () => {
          const status = res.statusCode ?? 0
          const body = Buffer.concat(chunks).toString('utf8')
          if (status >= 200 && status < 300) done({ kind: 'ok', status, body })
          else if (status === 408 || status === 429 || status >= 500) done({ kind: 'transient', status, body, reason: `the engine answered ${status}` })
          else done({ kind: 'final', status, body })
        })
      },
    )
    req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.once('error', (err: NodeJS.ErrnoException) =>
      done({ kind: 'transient', status: null, body: null, reason: err.code ? `${err.code} (${err.message})` : err.message }),
    )
    req.end(payload)
  })
}
