/**
 * Benchmark: the real-time proxy's cost and the swap overhead, against the fake vLLM.
 *
 *   npx tsx tests/bench/proxy-overhead.ts [--seconds 8]
 *
 * The service runs as `npm run serve` does (its own process, started by launcher.ts) and launches fake-vllm
 * as its engine. The load generator (this process, keep-alive connections) sends the same chat request either
 * straight to the engine's port ("direct", with the key the service launched the engine with) or through the
 * service's /v1/chat/completions ("proxied"), so both paths hit the same engine. Targets: with 32 connections
 * and a 50 ms engine, proxied >= 0.95 of direct throughput and < 2 ms added p50; reported: 64 connections
 * against a ~0 ms engine (the proxy's CPU cost per request); swap A->B beyond the engine's own load time < 1 s.
 */
import { spawn } from 'node:child_process'
import http from 'node:http'
import os from 'node:os'
import { delay } from './bench-util'
import { FAKE_VLLM, fakeEngineEnv } from './fake-vllm'
import { bench, type Service } from './launcher'

const args = process.argv.slice(2)
const SECONDS = Number(args[args.indexOf('--seconds') + 1]) || 8
const LOAD_MS = 2000

const MODELS = `models:
  - id: bench-a
    model: bench-org/bench-a
    vram_gb: 4
  - id: bench-b
    model: bench-org/bench-b
    vram_gb: 4
`

/** The service with fake-vllm (engine latency `latencyMs`), its engine bench-a loaded; and the engine's port. */
async function startService(latencyMs: number): Promise<{ service: Service; enginePort: number }> {
  const gpu = bench.tempDir('vbs-bench-gpu-')
  const service = await bench.start({
    models: MODELS,
    echoStderr: true,
    env: { ...fakeEngineEnv(gpu), VBS_LOG_LEVEL: 'warn', FAKE_VLLM_LATENCY_MS: String(latencyMs), FAKE_VLLM_LOAD_MS: String(LOAD_MS) },
  })
  const engine = await service.startEngine('bench-a', 50)
  return { service, enginePort: engine.port as number }
}

interface Result {
  requests: number
  rps: number
  p50: number
  p99: number
  errors: number
}

/** `connections` loops, each sending one request after another for `seconds`. */
async function load(target: URL, headers: Record<string, string>, model: string, connections: number, seconds: number): Promise<Result> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections })
  const body = Buffer.from(JSON.stringify({ model, messages: [{ role: 'user', content: 'benchmark me please' }], max_tokens: 16 }))
  const latencies: number[] = []
  let errors = 0
  const end = performance.now() + seconds * 1000
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now()
      const req = http.request(target, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length, ...headers } }, (res) => {
        res.resume()
        res.on('end', () => {
          if (res.statusCode === 200) latencies.push(performance.now() - t0)
          else errors += 1
          resolve()
        })
      })
      req.on('error', () => {
        errors += 1
        resolve()
      })
      req.end(body)
    })
  const started = performance.now()
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) await one()
    }),
  )
  const elapsed = (performance.now() - started) / 1000
  agent.destroy()
  latencies.sort((a, b) => a - b)
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN
  return { requests: latencies.length, rps: latencies.length / elapsed, p50: q(0.5), p99: q(0.99), errors }
}

/** The two ways to the same engine: straight to its port (with its own key), and through the service. */
function targets(s: { service: Service; enginePort: number }): { direct: [URL, Record<string, string>]; proxied: [URL, Record<string, string>] } {
  return {
    direct: [new URL(`http://127.0.0.1:${s.enginePort}/v1/chat/completions`), s.service.engineHeaders()],
    proxied: [new URL(`${s.service.url}/v1/chat/completions`), { authorization: `Bearer ${s.service.key}` }],
  }
}

/** The engine's own start: fake-vllm launched by hand, until /health answers (polled every 10 ms). */
async function engineOwnLoadMs(): Promise<number> {
  const gpu = bench.tempDir('vbs-bench-gpu-')
  const port = 20000 + Math.floor(Math.random() * 20000)
  const t0 = performance.now()
  const child = spawn(FAKE_VLLM, ['serve', 'bench-org/bench-b', '--host', '127.0.0.1', '--port', String(port), '--served-model-name', 'bench-b'], {
    env: { ...process.env, FAKE_GPU_STATE_DIR: gpu, FAKE_VLLM_LOAD_MS: String(LOAD_MS), FAKE_VLLM_GPU_MIB: '4000' },
    stdio: 'ignore',
    detached: true,
  })
  bench.onCleanup(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // gone
    }
  })
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status === 200, () => false)
    if (ok) break
    if (performance.now() - t0 > 60_000) throw new Error('fake engine did not start')
    await delay(10)
  }
  const ms = performance.now() - t0
  process.kill(-child.pid!, 'SIGTERM')
  return ms
}

const f1 = (n: number): string => n.toFixed(1)

async function main(): Promise<void> {
  console.log(`proxy-overhead: ${SECONDS} s per run, ${os.cpus().length} cores, Node ${process.version}`)
  const m = await bench.measure(async () => {
    // 1. 32 connections, 50 ms engine.
    bench.step = 'the latency-bound case'
    const slow = await startService(50)
    const s = targets(slow)
    await load(...s.direct, 'bench-a', 32, 1) // warm-up
    await load(...s.proxied, 'bench-a', 32, 1)
    const direct = await load(...s.direct, 'bench-a', 32, SECONDS)
    const proxied = await load(...s.proxied, 'bench-a', 32, SECONDS)
    await slow.service.stop()

    // 2. 64 connections, ~0 ms engine: the proxy's CPU cost.
    bench.step = 'the CPU-bound case'
    const fast = await startService(0)
    const t = targets(fast)
    await load(...t.proxied, 'bench-a', 64, 1)
    const directFast = await load(...t.direct, 'bench-a', 64, SECONDS)
    const proxiedFast = await load(...t.proxied, 'bench-a', 64, SECONDS)

    // 3. Swap A -> B: the first request for B, answered, against the engine's own load time.
    bench.step = 'the swap'
    const own = await engineOwnLoadMs()
    const t0 = performance.now()
    const swapped = await load(...t.proxied, 'bench-b', 1, 0.001)
    const swapMs = performance.now() - t0
    await fast.service.stop()
    if (swapped.errors > 0 || swapped.requests !== 1) throw new Error('the swap request failed')
    return { direct, proxied, directFast, proxiedFast, own, swapMs }
  })
  const { direct, proxied, own, swapMs } = m

  const rows: string[] = []
  rows.push('| case | connections | engine latency | direct req/s | proxied req/s | ratio | direct p50 ms | proxied p50 ms | added p50 ms | proxied p99 ms | errors |')
  rows.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
  for (const [name, conns, lat, d, p] of [
    ['latency-bound', 32, '50 ms', direct, proxied],
    ['CPU-bound', 64, '~0 ms', m.directFast, m.proxiedFast],
  ] as const) {
    rows.push(
      `| ${name} | ${conns} | ${lat} | ${f1(d.rps)} | ${f1(p.rps)} | ${(p.rps / d.rps).toFixed(3)} | ${f1(d.p50)} | ${f1(p.p50)} | ${(p.p50 - d.p50).toFixed(2)} | ${f1(p.p99)} | ${d.errors + p.errors} |`,
    )
  }
  console.log(rows.join('\n'))
  console.log('')
  console.log('| swap | engine own load ms | first request for B answered after ms | overhead ms |')
  console.log('|---|--:|--:|--:|')
  console.log(`| bench-a -> bench-b (fake load ${LOAD_MS} ms) | ${own.toFixed(0)} | ${swapMs.toFixed(0)} | ${(swapMs - own).toFixed(0)} |`)
  console.log('')
  const ratio = proxied.rps / direct.rps
  const added = proxied.p50 - direct.p50
  console.log(`target: proxied/direct >= 0.95 at 32 connections, 50 ms: ${ratio.toFixed(3)} ${ratio >= 0.95 ? 'PASS' : 'MISS'}`)
  console.log(`target: added p50 < 2 ms: ${added.toFixed(2)} ms ${added < 2 ? 'PASS' : 'MISS'}`)
  console.log(`target: swap overhead < 1000 ms: ${(swapMs - own).toFixed(0)} ms ${swapMs - own < 1000 ? 'PASS' : 'MISS'}`)
}

bench.run('proxy-overhead', main)
