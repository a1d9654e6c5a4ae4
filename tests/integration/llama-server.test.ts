import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import OpenAI from 'openai'
import type { LlamaModel } from 'node-llama-cpp'
import { spawnReady, type ReadyChild } from '../helpers/spawn-ready'
import { tinyGgufInTempDir, writeTinyGguf, type TinyGgufDir } from '../helpers/tiny-gguf'

/**
 * The llama.cpp engine child (main/engine/llama-server/main.ts) on a tiny hand-written GGUF, started exactly
 * as the supervisor starts it and driven with the official openai SDK. Everything waits on events or on
 * observed state (the ready line, /metrics), never on a sleep; llama.cpp always runs with one thread.
 */

const ROOT = path.resolve(__dirname, '..', '..')
const ENTRY = 'main/engine/llama-server/main.ts'
const READY = /^llama\.cpp: server ready on (http:\/\/\S+)$/m

type LlamaChild = ReadyChild

function spawnLlamaServer(args: string[], env: Record<string, string> = {}): LlamaChild {
  return spawnReady(
    process.execPath,
    ['--import', 'tsx', ENTRY, ...args],
    { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } },
    { pattern: READY, what: 'llama-server', timeoutMs: 90_000 },
  )
}

const serverArgs = (model: string, name: string, extra: Record<string, string> = {}): string[] => {
  const flags: Record<string, string> = {
    model,
    host: '127.0.0.1',
    port: '0',
    'served-model-name': name,
    parallel: '2',
    'context-size': '2048',
    threads: '1',
    'gpu-layers': '0',
    ...extra,
  }
  return Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v])
}

/** Resolves with `probe()`'s first non-null value, polling; bounded. */
async function eventually<T>(probe: () => Promise<T | null>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== null) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

async function exitWithin(c: LlamaChild, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no exit within ${ms} ms:\n${c.output()}`)), ms)))
  try {
    return await Promise.race([c.exited, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function stop(c: LlamaChild | undefined): Promise<unknown> {
  if (!c || c.child.exitCode !== null || c.child.signalCode !== null) return Promise.resolve()
  c.child.kill('SIGTERM')
  return exitWithin(c, 10_000).catch(() => c.child.kill('SIGKILL'))
}

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text()
  const m = new RegExp(`^${name.replace(/[.:]/g, '\\$&')}\\{model_name="[^"]*"\\} (\\S+)$`, 'm').exec(text)
  if (!m) throw new Error(`${name} not in /metrics:\n${text}`)
  return Number(m[1])
}

const client = (url: string): OpenAI => new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 })

async function post(url: string, pathname: string, body: unknown): Promise<{ status: number; json: { error?: { message: string; type: string; param: string | null; code: string | null } } }> {
  const res = await fetch(`${url}${pathname}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })
  return { status: res.status, json: (await res.json()) as { error?: { message: string; type: string; param: string | null; code: string | null } } }
}

type ChatParams = OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming

let modelDir: TinyGgufDir
let tokenizer: { model: LlamaModel; dispose: () => Promise<void> }
const hello: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
  { role: 'system', content: 'be short' },
  { role: 'user', content: 'tell me a story about the cat' },
]
/** The same conversation rendered by hand in ChatML, the template the tiny GGUF carries. */
const helloChatml = '<|im_start|>system\nbe short<|im_end|>\n<|im_start|>user\ntell me a story about the cat<|im_end|>\n<|im_start|>assistant\n'

beforeAll(async () => {
  modelDir = tinyGgufInTempDir({ seed: 1 })
  const nlc = await import('node-llama-cpp')
  const llama = await nlc.getLlama({ gpu: false, build: 'never', maxThreads: 1, logLevel: nlc.LlamaLogLevel.warn })
  const model = await llama.loadModel({ modelPath: modelDir.file, gpuLayers: 0 })
  tokenizer = { model, dispose: () => llama.dispose() }
})

afterAll(async () => {
  await tokenizer?.dispose()
  modelDir?.cleanup()
})

/** Prompt tokens as the model's own tokenizer counts them (BOS first, as add_bos_token asks). */
const promptTokens = (text: string, special = false): number => {
  const m = tokenizer.model
  return m.tokenize(text, special).length + (m.tokens.shouldPrependBosToken ? 1 : 0)
}

describe('llama-server: OpenAI API on a tiny GGUF (--parallel 2)', () => {
  let server: LlamaChild
  let url: string
  let openai: OpenAI
  const chat = (p: Partial<ChatParams>): Promise<OpenAI.Chat.Completions.ChatCompletion> =>
    openai.chat.completions.create({ model: 'tiny-a', messages: hello, temperature: 0, max_tokens: 24, ...p })

  beforeAll(async () => {
    server = spawnLlamaServer(serverArgs(modelDir.file, 'tiny-a'))
    url = await server.ready
    openai = client(url)
  })
  afterAll(() => stop(server))

  it('logs its loading phases, ready line last, and answers /health and /v1/models once ready', async () => {
    const lines = server.output().trim().split('\n')
    expect(lines[0]).toBe(`llama.cpp: loading model ${modelDir.file}`)
    expect(lines.some((l) => /^llama\.cpp: model loaded in \d+ ms \(\d+ parameters/.test(l))).toBe(true)
    expect(lines).toContain('llama.cpp: 2 parallel sequences, context 2048, 1 threads')
    expect(lines.at(-1)).toMatch(READY)
    expect((await fetch(`${url}/health`)).status).toBe(200)
    const models = await openai.models.list()
    expect(models.data).toEqual([expect.objectContaining({ id: 'tiny-a', object: 'model', owned_by: 'llama.cpp', max_model_len: 2048 })])
  })

  it('chat: an OpenAI chat.completion with usage counted by the model tokenizer, finish_reason length at max_tokens', async () => {
    const r = await chat({ model: 'some-other-name' })
    expect(r.id).toMatch(/^chatcmpl-/)
    expect(r.object).toBe('chat.completion')
    expect(r.model).toBe('tiny-a')
    expect(r.choices).toHaveLength(1)
    expect(r.choices[0].message.role).toBe('assistant')
    expect(r.choices[0].message.content!.length).toBeGreaterThan(0)
    expect(r.choices[0].finish_reason).toBe('length')
    expect(r.usage).toEqual({ prompt_tokens: promptTokens(helloChatml, true), completion_tokens: 24, total_tokens: promptTokens(helloChatml, true) + 24 })
  })

  it('chat streamed: role chunk, deltas that add up to the non-streamed text, finish chunk, usage chunk, [DONE]', async () => {
    const plain = await chat({ max_tokens: 40 })
    const stream = await openai.chat.completions.create({ model: 'tiny-a', messages: hello, temperature: 0, max_tokens: 40, stream: true, stream_options: { include_usage: true } })
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = []
    for await (const c of stream) chunks.push(c)
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'tiny-a' && c.id === chunks[0].id)).toBe(true)
    expect(chunks[0].choices[0].delta.role).toBe('assistant')
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')
    expect(text).toBe(plain.choices[0].message.content)
    const finish = chunks.filter((c) => c.choices[0]?.finish_reason)
    expect(finish.map((c) => c.choices[0].finish_reason)).toEqual(['length'])
    const last = chunks.at(-1)!
    expect(last.choices).toEqual([])
    expect(last.usage).toEqual(plain.usage)
  })

  it('content given as text parts renders like the same string', async () => {
    const parts = await chat({ messages: [{ role: 'system', content: 'be short' }, { role: 'user', content: [{ type: 'text', text: 'tell me a story about the cat' }] }] })
    expect(parts.choices[0].message.content).toBe((await chat({})).choices[0].message.content)
  })

  it('sampling: temperature 0 repeats; temperature 0.8 with a seed repeats, another seed differs', async () => {
    const text = async (p: Partial<ChatParams>): Promise<string> => (await chat({ max_tokens: 30, ...p })).choices[0].message.content!
    expect(await text({ temperature: 0 })).toBe(await text({ temperature: 0 }))
    const seeded = await text({ temperature: 0.8, seed: 1 })
    expect(await text({ temperature: 0.8, seed: 1 })).toBe(seeded)
    expect(await text({ temperature: 0.8, seed: 2 })).not.toBe(seeded)
  })

  it('stop strings end the text before the first match with finish_reason stop, streamed and not', async () => {
    const full = (await chat({ max_tokens: 40 })).choices[0].message.content!
    // A piece of the greedy text from its middle: the reply must stop right before its first occurrence.
    const stopAt = full.slice(6, 10)
    const expected = full.slice(0, full.indexOf(stopAt))
    const r = await chat({ max_tokens: 40, stop: ['never-generated-zzz', stopAt] })
    expect(r.choices[0].message.content).toBe(expected)
    expect(r.choices[0].finish_reason).toBe('stop')
    expect(r.usage!.completion_tokens).toBeLessThan(40)
    const stream = await openai.chat.completions.create({ model: 'tiny-a', messages: hello, temperature: 0, max_tokens: 40, stop: stopAt, stream: true })
    let streamed = ''
    let finish: string | null = null
    for await (const c of stream) {
      streamed += c.choices[0]?.delta.content ?? ''
      finish = c.choices[0]?.finish_reason ?? finish
    }
    expect(streamed).toBe(expected)
    expect(finish).toBe('stop')
  })

  it('text completions: text_completion object, BOS-prefixed prompt count, streaming adds up', async () => {
    const prompt = 'the cat is on the water and'
    const r = await openai.completions.create({ model: 'tiny-a', prompt, max_tokens: 12, temperature: 0 })
    expect(r.id).toMatch(/^cmpl-/)
    expect(r.object).toBe('text_completion')
    expect(r.choices[0].finish_reason).toBe('length')
    expect(r.choices[0].text.length).toBeGreaterThan(0)
    expect(r.usage).toEqual({ prompt_tokens: promptTokens(prompt), completion_tokens: 12, total_tokens: promptTokens(prompt) + 12 })
    const stream = await openai.completions.create({ model: 'tiny-a', prompt: [prompt], max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } })
    let text = ''
    let usage: OpenAI.Completions.CompletionUsage | null | undefined
    for await (const c of stream) {
      text += c.choices[0]?.text ?? ''
      usage = c.usage ?? usage
    }
    expect(text).toBe(r.choices[0].text)
    expect(usage).toEqual(r.usage)
  })

  it('embeddings: float and base64 (little-endian float32) agree, one vector of embedding_length per input', async () => {
    const input = ['hello world', 'the cat']
    const floats = await openai.embeddings.create({ model: 'tiny-a', input, encoding_format: 'float' })
    expect(floats.object).toBe('list')
    expect(floats.data.map((d) => [d.object, d.index, d.embedding.length])).toEqual([
      ['embedding', 0, modelDir.embeddingLength],
      ['embedding', 1, modelDir.embeddingLength],
    ])
    const b64 = await openai.embeddings.create({ model: 'tiny-a', input, encoding_format: 'base64' })
    for (const [i, d] of b64.data.entries()) {
      const bytes = Buffer.from(d.embedding as unknown as string, 'base64')
      const decoded = Array.from({ length: bytes.length / 4 }, (_, k) => bytes.readFloatLE(k * 4))
      expect(decoded).toEqual(floats.data[i].embedding)
    }
    const eos = tokenizer.model.tokens.shouldAppendEosToken ? 1 : 0
    const expected = input.reduce((n, s) => n + promptTokens(s) + eos, 0)
    expect(floats.usage).toEqual({ prompt_tokens: expected, total_tokens: expected })
    // The SDK's default asks for base64 and decodes it.
    const dflt = await openai.embeddings.create({ model: 'tiny-a', input: 'hello world' })
    expect(dflt.data[0].embedding).toEqual(floats.data[0].embedding)
  })

  it('response_format: json_object and json_schema give parseable JSON; a schema it cannot enforce is a 400', async () => {
    // Free-form JSON from random weights may never close a string, so json_object shows the grammar at work
    // (the reply is forced into an object) and the bounded schema below shows a complete, valid document.
    const plain = (await chat({ max_tokens: 20 })).choices[0].message.content!
    const obj = (await chat({ max_tokens: 20, response_format: { type: 'json_object' } })).choices[0].message.content!
    expect(plain.trimStart().startsWith('{')).toBe(false)
    expect(obj.trimStart().startsWith('{')).toBe(true)
    const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 12 }, size: { type: 'integer' }, ok: { type: 'boolean' } }, required: ['name', 'size', 'ok'], additionalProperties: false }
    const js = await chat({ max_tokens: 300, response_format: { type: 'json_schema', json_schema: { name: 'thing', schema } } })
    expect(js.choices[0].finish_reason).toBe('stop')
    const parsed = JSON.parse(js.choices[0].message.content!) as Record<string, unknown>
    expect(Object.keys(parsed).sort()).toEqual(['name', 'ok', 'size'])
    expect(typeof parsed.name).toBe('string')
    expect(Number.isInteger(parsed.size)).toBe(true)
    expect(typeof parsed.ok).toBe('boolean')
    const bad = await post(url, '/v1/chat/completions', { messages: hello, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', pattern: '^a+$' } } } })
    expect(bad.status).toBe(400)
    expect(bad.json.error).toMatchObject({ param: 'response_format.json_schema.schema', code: 'unsupported_schema' })
    expect(bad.json.error!.message).toContain("'pattern'")
  })

  it('/metrics counters grow by what a request used', async () => {
    const before = {
      requests: await metric(url, 'llamacpp:requests_total'),
      prompt: await metric(url, 'llamacpp:prompt_tokens_total'),
      generation: await metric(url, 'llamacpp:generation_tokens_total'),
    }
    expect(await metric(url, 'llamacpp:num_requests_running')).toBe(0)
    expect(await metric(url, 'llamacpp:num_requests_waiting')).toBe(0)
    const r = await chat({ max_tokens: 7 })
    expect(await metric(url, 'llamacpp:requests_total')).toBe(before.requests + 1)
    expect(await metric(url, 'llamacpp:prompt_tokens_total')).toBe(before.prompt + r.usage!.prompt_tokens)
    expect(await metric(url, 'llamacpp:generation_tokens_total')).toBe(before.generation + 7)
  })

  it('bad requests get a 400 envelope naming the field; unknown paths 404; bodies over 32 MiB 413', async () => {
    const cases: [unknown, string | null, string][] = [
      ['{"messages": [', null, 'invalid_json'],
      [{}, 'messages', 'missing_required_parameter'],
      [{ messages: 'hi' }, 'messages', 'invalid_type'],
      [{ messages: [] }, 'messages', 'empty_array'],
      [{ messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].role', 'invalid_value'],
      [{ messages: [{ role: 'user', content: 5 }] }, 'messages[0].content', 'invalid_type'],
      [{ messages: hello, temperature: 'hot' }, 'temperature', 'invalid_type'],
      [{ messages: hello, max_tokens: 0 }, 'max_tokens', 'invalid_value'],
      [{ messages: hello, n: 2 }, 'n', 'unsupported_parameter'],
      [{ messages: hello, stop: [1] }, 'stop', 'invalid_type'],
      [{ messages: hello, max_tokens: 5000 }, 'messages', 'context_length_exceeded'],
      [{ messages: [{ role: 'user', content: 'the '.repeat(3000) }] }, 'messages', 'context_length_exceeded'],
    ]
    for (const [body, param, code] of cases) {
      const r = await post(url, '/v1/chat/completions', body)
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400)
      expect(r.json.error).toMatchObject({ type: 'invalid_request_error', param, code })
      if (param) expect(r.json.error!.message).toContain(param)
    }
    expect((await post(url, '/v1/completions', { prompt: 42 })).json.error).toMatchObject({ param: 'prompt' })
    expect((await post(url, '/v1/embeddings', { input: [1.5] })).json.error).toMatchObject({ param: 'input[0]' })
    const sdkError = await chat({ temperature: 9 }).catch((e: unknown) => e)
    expect(sdkError).toBeInstanceOf(OpenAI.BadRequestError)
    expect((sdkError as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('temperature')

    const missing = await fetch(`${url}/v1/nothing-here`)
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as { error: { message: string } }).error.message).toContain('/v1/nothing-here')
    const huge = await post(url, '/v1/chat/completions', `{"messages":"${'x'.repeat(33 * 1024 * 1024)}"}`)
    expect(huge.status).toBe(413)
    expect(huge.json.error).toMatchObject({ code: 'request_too_large' })
    // Still serving after all that.
    expect((await chat({ max_tokens: 2 })).choices[0].finish_reason).toBe('length')
  })
})

describe('llama-server: priority queue, disconnects and SIGTERM (--parallel 1)', () => {
  let modelB: string
  let server: LlamaChild
  let url: string
  let openai: OpenAI

  beforeAll(async () => {
    // A second model from another seed: the supervisor swaps between files like these.
    modelB = path.join(modelDir.dir, 'tiny-b.gguf')
    writeTinyGguf(modelB, { seed: 2, name: 'tiny-b' })
    server = spawnLlamaServer(serverArgs(modelB, 'tiny-b', { parallel: '1', 'context-size': '4096' }))
    url = await server.ready
    openai = client(url)
  })
  afterAll(() => stop(server))

  it('another seed is another model: the same greedy request gives other text', async () => {
    const params = { messages: hello, temperature: 0, max_tokens: 30 }
    const a = spawnLlamaServer(serverArgs(modelDir.file, 'tiny-a', { parallel: '1' }))
    try {
      const textA = (await client(await a.ready).chat.completions.create({ model: 'tiny-a', ...params })).choices[0].message.content
      const textB = (await openai.chat.completions.create({ model: 'tiny-b', ...params })).choices[0].message.content
      expect(textB).not.toBe(textA)
    } finally {
      await stop(a)
    }
  })

  it('a priority-0 request sent after queued priority-10 ones is served first; a disconnect frees the sequence', async () => {
    const waiting = (): Promise<number> => metric(url, 'llamacpp:num_requests_waiting')
    // A holds the only sequence: streamed, long, and cancelled by the test once the queue is set up.
    const abortA = new AbortController()
    const streamA = await openai.chat.completions.create(
      { model: 'tiny-b', messages: hello, temperature: 0, stream: true, priority: 10 } as OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming,
      { signal: abortA.signal },
    )
    const itA = streamA[Symbol.asyncIterator]()
    await itA.next()
    expect(await metric(url, 'llamacpp:num_requests_running')).toBe(1)

    const order: string[] = []
    const send = (name: string, priority: number): Promise<void> =>
      openai.chat.completions
        .create({ model: 'tiny-b', messages: [{ role: 'user', content: name }], temperature: 0, max_tokens: 8, priority } as ChatParams)
        .then(
          (r) => void order.push(`${name}:${r.choices[0].finish_reason}`),
          (err: unknown) => void order.push(`${name} failed: ${String(err)}`),
        )
    const pending: Promise<void>[] = []
    for (const [i, name] of ['batch-1', 'batch-2', 'batch-3'].entries()) {
      pending.push(send(name, 10))
      await eventually(async () => ((await waiting()) === i + 1 ? true : null), `${i + 1} waiting`)
    }
    pending.push(send('interactive', 0))
    await eventually(async () => ((await waiting()) === 4 ? true : null), 'the interactive request queued behind the batch ones')
    expect(await metric(url, 'llamacpp:num_requests_running')).toBe(1)

    // The SDK ends the aborted stream quietly; the server sees the disconnect and frees the sequence.
    abortA.abort()
    await itA.next().catch(() => undefined)
    await Promise.all(pending)
    expect(order).toEqual(['interactive:length', 'batch-1:length', 'batch-2:length', 'batch-3:length'])
    await eventually(async () => ((await metric(url, 'llamacpp:num_requests_running')) === 0 ? true : null), 'the sequence back in the pool')
    expect(await waiting()).toBe(0)
  })

  it('SIGTERM during a generation ends the process with 0 promptly', async () => {
    const stream = await openai.completions.create({ model: 'tiny-b', prompt: 'the', max_tokens: 3000, temperature: 0, stream: true })
    const it = stream[Symbol.asyncIterator]()
    await it.next()
    const t0 = Date.now()
    server.child.kill('SIGTERM')
    const { code } = await exitWithin(server, 10_000)
    expect(code).toBe(0)
    expect(Date.now() - t0).toBeLessThan(5_000)
    expect(server.output()).toContain('llama.cpp: SIGTERM: shutting down')
    await it.next().catch(() => undefined)
  })
})

describe('llama-server: with LLAMA_API_KEY (as the supervisor starts it)', () => {
  const KEY = 'engine-launch-key-0123456789abcdefghijklmnop'
  let server: LlamaChild
  let url: string
  beforeAll(async () => {
    server = spawnLlamaServer(serverArgs(modelDir.file, 'tiny-a', { parallel: '1' }), { LLAMA_API_KEY: KEY })
    url = await server.ready
  })
  afterAll(() => stop(server))

  it('refuses /v1/* without the key in OpenAI\'s envelope, serves with it; /health and /metrics stay open; the key is never printed', async () => {
    for (const [method, p] of [['GET', '/v1/models'], ['POST', '/v1/chat/completions'], ['POST', '/v1/embeddings'], ['GET', '/v1/nothing-here']] as const) {
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: KEY }] as Record<string, string>[]) {
        const res = await fetch(`${url}${p}`, { method, headers: { 'content-type': 'application/json', ...headers }, body: method === 'POST' ? JSON.stringify({ messages: hello }) : undefined })
        expect(res.status, `${method} ${p} ${JSON.stringify(headers)}`).toBe(401)
        expect(((await res.json()) as { error: Record<string, unknown> }).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key' })
      }
    }
    expect((await fetch(`${url}/health`)).status).toBe(200)
    expect(await metric(url, 'llamacpp:num_requests_running')).toBe(0)
    const keyed = new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, maxRetries: 0 })
    const reply = await keyed.chat.completions.create({ model: 'tiny-a', messages: hello, temperature: 0, max_tokens: 3 })
    expect(reply.choices[0].finish_reason).toBe('length')
    expect((await client(url).models.list().catch((e: unknown) => e))).toBeInstanceOf(OpenAI.AuthenticationError)
    expect(server.output()).not.toContain(KEY)
  })
})

describe('llama-server: start-up failures', () => {
  it('a malformed or truncated GGUF makes it exit non-zero with the error printed, without listening', async () => {
    const garbage = path.join(modelDir.dir, 'garbage.gguf')
    fs.writeFileSync(garbage, Buffer.concat([Buffer.from('GGUF'), Buffer.from([3, 0, 0, 0]), Buffer.from('not a model at all, just text')]))
    const truncated = path.join(modelDir.dir, 'truncated.gguf')
    fs.writeFileSync(truncated, fs.readFileSync(modelDir.file).subarray(0, Math.floor(modelDir.size / 2)))
    for (const file of [garbage, truncated, path.join(modelDir.dir, 'missing.gguf')]) {
      const c = spawnLlamaServer(serverArgs(file, 'broken'))
      const { code, signal } = await exitWithin(c, 60_000)
      expect(code === 0 && signal === null, c.output()).toBe(false)
      expect(c.output()).toContain(`llama.cpp: loading model ${file}`)
      expect(c.output()).toContain('llama.cpp: failed to load model')
      expect(c.output()).not.toMatch(READY)
    }
  })

  it('bad or missing flags: a usage message on stderr and exit 2', async () => {
    for (const args of [[], ['--model', modelDir.file], [...serverArgs(modelDir.file, 'x'), '--bogus', '1'], serverArgs(modelDir.file, 'x', { parallel: 'many' })]) {
      const c = spawnLlamaServer(args)
      expect((await exitWithin(c, 60_000)).code).toBe(2)
      expect(c.output()).toContain('usage: llama-server')
    }
  })
})
