import { randomUUID } from 'node:crypto'
import type { LlamaGrammar, Token } from 'node-llama-cpp'
import { endEventStream, sendError, sendEvent, sendJson, startEventStream } from './http'
import { generate, type FinishReason, type Sampling } from './generate'
import type { CommonParams } from './params'
import type { RouteContext } from './route-context'

/**
 * Serves one chat or text completion once its prompt is tokenized and checked: waits for a sequence (by
 * priority), generates, and answers with OpenAI's object or its SSE chunks. Streamed chunks are built from
 * prefixes made once per request, so the per-token cost is one JSON.stringify of the new text.
 */
export type GenerationKind = 'chat' | 'text'

export interface GenerationJob {
  kind: GenerationKind
  prompt: Token[]
  params: CommonParams
  maxTokens: number
  stop: readonly string[]
  stopTokens?: ReadonlySet<Token>
  grammar?: LlamaGrammar
}

interface Usage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
}

const usageOf = (prompt: number, completion: number): Usage => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
})

export async function serveGeneration(ctx: RouteContext, job: GenerationJob): Promise<void> {
  const { runtime, res, signal } = ctx
  const lease = await runtime.pool.acquire(job.params.priority, signal)
  try {
    const id = `${job.kind === 'chat' ? 'chatcmpl-' : 'cmpl-'}${randomUUID().replace(/-/g, '')}`
    const created = Math.floor(Date.now() / 1000)
    const sampling: Sampling = { ...job.params.sampling, stop: job.stop, maxTokens: job.maxTokens }
    const input = { ...sampling, prompt: job.prompt, grammar: job.grammar, stopTokens: job.stopTokens, signal }

    if (!job.params.stream) {
      const result = await generate(runtime.lib, lease.item, input)
      if (result.aborted) return
      ctx.metrics.record(job.prompt.length, result.completionTokens)
      sendJson(res, 200, completionObject(job.kind, id, created, ctx.servedModelName, result.text, result.finishReason, usageOf(job.prompt.length, result.completionTokens)))
      return
    }

    const chunks = new ChunkWriter(job.kind, id, created, ctx.servedModelName, job.params.includeUsage)
    startEventStream(res)
    if (job.kind === 'chat') sendEvent(res, chunks.roleChunk())
    const result = await generate(runtime.lib, lease.item, { ...input, onText: (text) => sendEvent(res, chunks.textChunk(text)) })
    if (result.aborted) return
    ctx.metrics.record(job.prompt.length, result.completionTokens)
    sendEvent(res, chunks.finalChunk(result.finishReason))
    if (job.params.includeUsage) sendEvent(res, chunks.usageChunk(usageOf(job.prompt.length, result.completionTokens)))
    endEventStream(res)
  } catch (err) {
    if (!signal.aborted) sendError(res, err)
  } finally {
    lease.release()
  }
}

function completionObject(kind: GenerationKind, id: string, created: number, model: string, text: string, finishReason: FinishReason, usage: Usage): object {
  if (kind === 'chat') {
    return {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: finishReason }],
      usage,
    }
  }
  return { id, object: 'text_completion', created, model, choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason }], usage }
}

class ChunkWriter {
  private readonly head: string
  private readonly textHead: string
  private readonly textTail: string
  private readonly usageField: string

  constructor(
    private readonly kind: GenerationKind,
    id: string,
    created: number,
    model: string,
    includeUsage: boolean,
  ) {
    const object = kind === 'chat' ? 'chat.completion.chunk' : 'text_completion'
    this.head = `{"id":${JSON.stringify(id)},"object":"${object}","created":${created},"model":${JSON.stringify(model)},"choices":[`
    // OpenAI sends "usage": null on every chunk but the last when usage was asked for.
    this.usageField = includeUsage ? ',"usage":null' : ''
    this.textHead = kind === 'chat' ? `${this.head}{"index":0,"delta":{"content":` : `${this.head}{"index":0,"text":`
    this.textTail = kind === 'chat' ? `},"logprobs":null,"finish_reason":null}]${this.usageField}}` : `,"logprobs":null,"finish_reason":null}]${this.usageField}}`
  }

  roleChunk(): string {
    return `${this.head}{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]${this.usageField}}`
  }

  textChunk(text: string): string {
    return this.textHead + JSON.stringify(text) + this.textTail
  }

  finalChunk(finishReason: FinishReason): string {
    const choice = this.kind === 'chat' ? `{"index":0,"delta":{},"logprobs":null,"finish_reason":"${finishReason}"}` : `{"index":0,"text":"","logprobs":null,"finish_reason":"${finishReason}"}`
    return `${this.head}${choice}]${this.usageField}}`
  }

  usageChunk(usage: Usage): string {
    return `${this.head}],"usage":${JSON.stringify(usage)}}`
  }
}
