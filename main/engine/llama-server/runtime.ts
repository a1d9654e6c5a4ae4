import type {
  ChatWrapper,
  Llama,
  LlamaContext,
  LlamaContextSequence,
  LlamaEmbeddingContext,
  LlamaModel,
} from 'node-llama-cpp'
import type { ServerArgs } from './args'
import { SequencePool } from './sequence-pool'

/** node-llama-cpp's module: an ES module, loaded with import() so it works under tsx (CJS) and when bundled. */
export type NodeLlamaCpp = typeof import('node-llama-cpp')

/** The loaded model and everything requests share: one context, its sequences, the chat template. */
export interface Runtime {
  readonly lib: NodeLlamaCpp
  readonly llama: Llama
  readonly model: LlamaModel
  readonly context: LlamaContext
  readonly pool: SequencePool<LlamaContextSequence>
  readonly chatWrapper: ChatWrapper
  /** Tokens per sequence (what the context really got; llama.cpp may round up). */
  readonly contextSize: number
  readonly parameters: number
  /** Created on first use: most deployments never ask this server for embeddings. */
  embeddings: () => Promise<LlamaEmbeddingContext>
  dispose: () => Promise<void>
}

export async function loadNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  return await import('node-llama-cpp')
}

export async function loadRuntime(lib: NodeLlamaCpp, args: ServerArgs): Promise<Runtime> {
  const llama = await lib.getLlama({
    gpu: args.gpuLayers === 0 ? false : 'auto',
    build: 'never',
    maxThreads: args.threads,
    logLevel: lib.LlamaLogLevel.warn,
    progressLogs: false,
  })
  let model: LlamaModel | undefined
  try {
    model = await llama.loadModel({ modelPath: args.model, gpuLayers: args.gpuLayers })
    const context = await model.createContext({ sequences: args.parallel, contextSize: args.contextSize, threads: args.threads })
    const sequences = Array.from({ length: args.parallel }, () => context.getSequence())
    const pool = new SequencePool(sequences, (s) => s.clearHistory())
    const chatWrapper = lib.resolveChatWrapper(model)
    const loaded = model
    let embedding: Promise<LlamaEmbeddingContext> | undefined
    return {
      lib,
      llama,
      model,
      context,
      pool,
      chatWrapper,
      contextSize: context.contextSize,
      parameters: countParameters(model),
      embeddings: () => {
        // The whole input is one batch (embeddings are not computed across batches).
        embedding ??= loaded.createEmbeddingContext({ contextSize: args.contextSize, batchSize: args.contextSize, threads: args.threads })
        embedding.catch(() => (embedding = undefined))
        return embedding
      },
      dispose: async () => {
        pool.close()
        await llama.dispose()
      },
    }
  } catch (err) {
    await llama.dispose().catch(() => undefined)
    throw err
  }
}

function countParameters(model: LlamaModel): number {
  let total = 0
  for (const t of model.fileInfo.tensorInfo ?? []) total += t.dimensions.reduce<number>((n, d) => n * Number(d), 1)
  return total
}
