import http from 'node:http'
import { bench, type Service } from '../launcher'
import { cpuDelta, cpuOf, type Cpu } from '../proc-memory'
import { ENDPOINT, MODEL_ID } from './setup'
import { toggleProfiles } from './profiling'

/**
 * Diagnostics of (a) and (c): chat completions with plain node:http (no SDK), straight to the engine child's
 * port (no service in between) or through the service.
 */

const childAgent = new http.Agent({ keepAlive: true, maxSockets: 256 })

/** One non-streamed chat completion with plain node:http (to the child or the service); returns its completion tokens. */
function postPlain(base: string, headers: Record<string, string>, content: string, maxTokens: number, priority?: number): Promise<number> {
  const payload = Buffer.from(JSON.stringify({ model: MODEL_ID, messages: [{ role: 'user', content }], temperature: 0, max_tokens: maxTokens, ...(priority !== undefined ? { priority } : {}) }))
  const u = new URL(ENDPOINT, base)
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: childAgent, headers: { ...headers, 'content-type': 'application/json', 'content-length': payload.length } },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.once('error', reject)
        res.once('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          if (res.statusCode !== 200) return reject(new Error(`the engine child answered ${res.statusCode}: ${text.slice(0, 200)}`))
          const n = (JSON.parse(text) as { usage: { completion_tokens: number } }).usage.completion_tokens
          if (n !== maxTokens) return reject(new Error(`the engine child generated ${n} tokens, not ${maxTokens}`))
          resolve(n)
        })
      },
    )
    req.once('error', reject)
    req.end(payload)
  })
}

/**
 * One streamed chat completion (include_usage) read with plain node:http, no SDK: the chunks are only counted
 * and the usage chunk at the end parsed. Returns the completion tokens.
 */
export function rawStream(base: string, headers: Record<string, string>, content: string, maxTokens: number): Promise<number> {
  const payload = Buffer.from(
    JSON.stringify({ model: MODEL_ID, messages: [{ role: 'user', content }], temperature: 0, max_tokens: maxTokens, stream: true, stream_options: { include_usage: true } }),
  )
  const u = new URL(ENDPOINT, base)
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: childAgent, headers: { ...headers, 'content-type': 'application/json', 'content-length': payload.length } },
      (res) => {
        let tail = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          tail = (tail + c).slice(-4096)
        })
        res.once('error', reject)
        res.once('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`streamed: ${res.statusCode} ${tail.slice(0, 200)}`))
          const m = /"usage":(\{[^}]*\})\}\s*data: \[DONE\]\s*$/.exec(tail)
          if (!m) return reject(new Error(`streamed: no usage chunk at the end: ${tail.slice(-300)}`))
          const n = (JSON.parse(m[1]) as { completion_tokens: number }).completion_tokens
          if (n !== maxTokens) return reject(new Error(`streamed: ${n} completion tokens, not ${maxTokens}`))
          resolve(n)
        })
      },
    )
    req.once('error', reject)
    req.end(payload)
  })
}

export interface ChildFigures {
  tokens: number
  wallS: number
  tps: number
  engineCpu: Cpu
}

/** Where the plain client sends: straight to the engine child's port (with the engine's key), or to the service. */
export async function plainTarget(service: Service, toChild: boolean): Promise<{ base: string; headers: Record<string, string> }> {
  if (!toChild) return { base: service.url, headers: { authorization: `Bearer ${service.key}` } }
  const port = (await service.api<{ port: number | null }>('/api/engine')).port
  if (port === null) throw new Error('the engine has no port')
  return { base: `http://127.0.0.1:${port}`, headers: service.engineHeaders() }
}

/** The prompts with `workers` requests in flight (the runner's 2 × P, or 1: single stream), plain client. */
export async function runToChild(service: Service, prompts: readonly string[], maxTokens: number, workers: number, priority?: number, profile = false, toChild = true): Promise<ChildFigures> {
  bench.step = `plain client ${toChild ? "straight to the engine child's port" : 'through the service'}, ${workers} in flight`
  const { base, headers } = await plainTarget(service, toChild)
  let next = 0
  let tokens = 0
  if (profile) await toggleProfiles(service)
  const cpu0 = cpuOf(service.enginePid)
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: Math.min(workers, prompts.length) }, async () => {
      for (;;) {
        const i = next++
        if (i >= prompts.length) return
        const n = await postPlain(base, headers, prompts[i], maxTokens, priority) // not `tokens += await`: that loses updates
        tokens += n
      }
    }),
  )
  const wallS = (performance.now() - t0) / 1000
  const engineCpu = cpuDelta(cpu0, cpuOf(service.enginePid))
  if (profile) await toggleProfiles(service)
  return { tokens, wallS, tps: tokens / wallS, engineCpu }
}
