import http from 'node:http'
import Router from '@koa/router'
import { BATCH_STATUSES } from '../../contract/batches'
import { ENGINE_STATES, type EngineKind } from '../../contract/engine'
import type { AppState } from '../middleware'
import type { EngineApiDeps } from './engine-api'

/** GET /metrics: Prometheus text with our gauges and counters, and the supervised engine's own series. */
export function metricsRouter(deps: Pick<EngineApiDeps, 'engine' | 'store' | 'stats' | 'waiting'>): Router<AppState> {
  const { engine } = deps
  const router = new Router<AppState>()

  router.get('/metrics', async (ctx) => {
    const status = engine.status()
    const lines: string[] = []
    const gauge = (name: string, help: string, samples: [string, number][]): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`)
      for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`)
    }
    gauge('vbs_engine_state', 'Engine state (1 for the current one).', ENGINE_STATES.map((s) => [`{state="${s}"}`, s === status.state ? 1 : 0]))
    gauge('vbs_engine_ready', 'Whether a model is loaded and serving.', [[`{model="${status.model ?? ''}"}`, status.state === 'ready' ? 1 : 0]])
    gauge('vbs_engine_restarts', 'Engine restarts after crashes in the current window.', [['', status.restarts]])
    gauge('vbs_engine_uptime_seconds', 'Seconds since the engine became ready.', [['', status.uptimeS ?? 0]])
    gauge('vbs_engine_requests_in_flight', 'Requests being served by the engine through this service.', [['', status.inFlight]])
    gauge('vbs_realtime_requests_waiting', 'Real-time requests whose body is held while they wait for the engine (a model loading).', [['', deps.waiting.bodies]])
    gauge('vbs_realtime_waiting_body_bytes', 'Bytes of the bodies of the real-time requests waiting for the engine.', [['', deps.waiting.bytes]])
    const counts = deps.store.batches.countByStatus()
    gauge('vbs_batches', 'Batches by status.', BATCH_STATUSES.map((s) => [`{status="${s}"}`, counts.get(s) ?? 0]))
    gauge('vbs_queued_requests', 'Requests waiting in active batches.', [['', deps.store.batches.queuedRequests()]])
    lines.push('# HELP vbs_realtime_requests_total Real-time API requests by endpoint and status.', '# TYPE vbs_realtime_requests_total counter')
    for (const [path, code, n] of deps.stats.counts()) lines.push(`vbs_realtime_requests_total{endpoint="${path}",code="${code}"} ${n}`)
    const prefix = METRIC_PREFIX[status.kind]
    if (status.state === 'ready' && status.port !== null && prefix) {
      const scraped = await scrape(status.port, prefix)
      if (scraped) lines.push(scraped.trimEnd())
    }
    ctx.type = 'text/plain; version=0.0.4; charset=utf-8'
    ctx.body = `${lines.join('\n')}\n`
  })

  return router
}

/** The series of each supervised engine's own /metrics that /metrics passes on. */
const METRIC_PREFIX: Record<EngineKind, string | null> = { vllm: 'vllm:', 'llama.cpp': 'llamacpp:', remote: null }

/** The engine's own series from its /metrics (null when it does not answer within a second). */
function scrape(port: number, prefix: string): Promise<string | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', timeout: 1000, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        return resolve(null)
      }
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        if (text.length < 4 * 1024 * 1024) text += d
      })
      res.on('end', () =>
        resolve(
          text
            .split('\n')
            .filter((l) => l.startsWith(prefix) || ((l.startsWith('# HELP ') || l.startsWith('# TYPE ')) && l.slice(7).startsWith(prefix)))
            .join('\n'),
        ),
      )
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(null))
  })
}
