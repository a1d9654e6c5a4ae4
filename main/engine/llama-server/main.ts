/**
 * The llama.cpp engine: a child process the service's supervisor starts, so that a native crash in
 * llama.cpp never takes the service down.
 *
 *   node --import tsx main/engine/llama-server/main.ts --model <file.gguf> --host 127.0.0.1 --port <p>
 *     --served-model-name <id> --parallel <N> --context-size <N> --threads <N> --gpu-layers <auto|N>
 *
 * (packaged: out/main/llama-server.js under Electron's node with ELECTRON_RUN_AS_NODE=1).
 * With LLAMA_API_KEY in its environment (the supervisor sets a fresh one per launch), /v1/* answers 401
 * without `Authorization: Bearer <key>`; /health and /metrics stay open, as vLLM's do.
 *
 * stdout carries the loading phases the supervisor reads, ending with exactly
 * `llama.cpp: server ready on http://<host>:<port>`; nothing listens before that line.
 * Exit codes: 0 after SIGTERM/SIGINT, 1 when the model cannot be loaded or the port bound, 2 for bad flags.
 */
import type { AddressInfo } from 'node:net'
import { ArgsError, parseArgs, takeApiKey, USAGE, type ServerArgs } from './args'
import { Metrics } from './metrics'
import { loadNodeLlamaCpp, loadRuntime, type Runtime } from './runtime'
import { createLlamaHttpServer, type LlamaHttpServer } from './server'

/** How long a shutdown may take before the process exits anyway (the supervisor's SIGTERM wait is longer). */
const SHUTDOWN_BOUND_MS = 1_500

const log = (line: string): void => {
  process.stdout.write(`llama.cpp: ${line}\n`)
}

async function main(): Promise<void> {
  const apiKey = takeApiKey(process.env)
  let args: ServerArgs
  try {
    args = parseArgs(process.argv.slice(2))
  } catch (err) {
    if (!(err instanceof ArgsError)) throw err
    process.stderr.write(`llama-server: ${err.message}\n${USAGE}\n`)
    process.exit(2)
  }

  let runtime: Runtime | undefined
  let http: LlamaHttpServer | undefined
  let stopping = false
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return
    stopping = true
    log(`${signal}: shutting down`)
    setTimeout(() => process.exit(0), SHUTDOWN_BOUND_MS).unref()
    http?.shutdown()
    void (runtime?.dispose() ?? Promise.resolve()).finally(() => process.exit(0))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)

  log(`loading model ${args.model}`)
  const started = performance.now()
  try {
    const lib = await loadNodeLlamaCpp()
    runtime = await loadRuntime(lib, args)
  } catch (err) {
    if (stopping) return
    process.stderr.write(`llama.cpp: failed to load model ${args.model}: ${(err as Error).message ?? String(err)}\n`)
    process.exit(1)
  }
  if (stopping) return
  const { model } = runtime
  log(
    `model loaded in ${Math.round(performance.now() - started)} ms (${runtime.parameters} parameters, ` +
      `${(model.size / 2 ** 20).toFixed(1)} MiB, ${model.gpuLayers} layers on the GPU, ${runtime.llama.gpu || 'cpu'})`,
  )
  log(`${args.parallel} parallel sequences, context ${runtime.contextSize}, ${args.threads} threads`)

  http = createLlamaHttpServer(runtime, new Metrics(args.servedModelName), args.servedModelName, { apiKey })
  const server = http.server
  server.once('error', (err) => {
    process.stderr.write(`llama.cpp: cannot listen on ${args.host}:${args.port}: ${err.message}\n`)
    process.exit(1)
  })
  server.listen(args.port, args.host, () => {
    const { port } = server.address() as AddressInfo
    const host = args.host.includes(':') ? `[${args.host}]` : args.host
    log(`server ready on http://${host}:${port}`)
  })
}

main().catch((err: unknown) => {
  process.stderr.write(`llama.cpp: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(1)
})
