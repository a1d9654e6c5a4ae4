// The engine behind the service (the production supervisor running the fake vLLM): it answers only to the
// service (a fresh key per launch, in its environment), it is never mistaken for whatever else answers on its
// port, it fetches no media URL it is handed, and no child process inherits the service's secrets.
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import OpenAI from 'openai'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort } from '../../main/engine/supervisor'
import { eventually, fakeServices } from '../helpers/fake-engine'
import { jsonl, waitForBatch, type TestService } from '../helpers/service'

const services = fakeServices()
afterEach(services.cleanup)

/** Secrets in the service's own environment that no child may inherit (the settings override them for the service). */
const SECRETS = {
  VBS_API_KEY: 'client-key-from-the-environment-0123456789',
  VBS_ADMIN_KEY: 'admin-key-from-the-environment-0123456789',
  HF_TOKEN: 'hf_token_for_gated_models_0123456789',
}

interface EngineStatusBody {
  state: string
  model: string | null
  pid: number | null
  port: number | null
  lastError: string | null
}

async function engineStatus(t: TestService): Promise<EngineStatusBody> {
  return (await (await t.api('/api/engine')).json()) as EngineStatusBody
}

/** A process's environment as the kernel started it (readable by its owner only, unlike its argv). */
function environOf(pid: number): Record<string, string> {
  const out: Record<string, string> = {}
  for (const entry of fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=')
    if (eq > 0) out[entry.slice(0, eq)] = entry.slice(eq + 1)
  }
  return out
}

const chat = (t: TestService, model: string, text: string): Promise<OpenAI.Chat.Completions.ChatCompletion> =>
  t.client.chat.completions.create({ model, messages: [{ role: 'user', content: text }] })

/** A local HTTP server that records what reaches it. */
async function recorder(handle: (req: http.IncomingMessage, res: http.ServerResponse) => void, port = 0): Promise<{ port: number; seen: { method: string; url: string; authorization: string | null }[]; close: () => Promise<void> }> {
  const seen: { method: string; url: string; authorization: string | null }[] = []
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization ?? null })
    req.resume()
    handle(req, res)
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

describe('the engine answers only to the service', () => {
  it('refuses /v1 requests without its launch key, while chat, streams, batches and /metrics through the service work', async () => {
    const { t, fake } = await services.boot({ ...SECRETS, FAKE_VLLM_LOAD_MS: '100' })
    expect((await chat(t, 'model-a', 'hello')).choices[0].message.content).toBe('echo: hello')
    const { pid, port } = await engineStatus(t)
    const engine = `http://127.0.0.1:${port}`

    // Nothing on this machine can use the engine without the key: not the service's own key, not a guess.
    for (const authorization of [undefined, `Bearer ${t.apiKey}`, 'Bearer guess']) {
      const res = await fetch(`${engine}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ model: 'test-model-a', messages: [{ role: 'user', content: 'sneaky' }] }),
      })
      expect(res.status).toBe(401)
    }
    expect((await fetch(`${engine}/v1/models`)).status).toBe(401)
    expect((await fetch(`${engine}/health`)).status).toBe(200)

    // The key is in the engine's environment (owner-only), and is what opens it.
    const key = environOf(pid!).VLLM_API_KEY
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect((await fetch(`${engine}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200)

    // The service itself still gets through, every way it talks to the engine.
    const stream = await t.client.chat.completions.create({ model: 'model-a', messages: [{ role: 'user', content: 'one two three' }], stream: true })
    let text = ''
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? ''
    expect(text).toBe('echo: one two three')
    expect((await t.client.embeddings.create({ model: 'model-a', input: 'x' })).data).toHaveLength(1)
    const file = await t.client.files.create({ file: new File([jsonl(20)], 'in.jsonl'), purpose: 'batch' })
    const batch = await t.client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    const done = await waitForBatch(t.client, batch.id, ['validating', 'in_progress', 'finalizing'])
    expect(done.status).toBe('completed')
    expect(done.request_counts).toMatchObject({ completed: 20, failed: 0 })
    // The engine's own series: the scrape of its /metrics (open, as in vLLM) still works.
    expect(await (await t.api('/metrics')).text()).toContain('vllm:num_requests_running')

    // The key is nowhere a user or another local process can read it.
    expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain(key)
    expect(JSON.stringify(fake.launches())).not.toContain(key)
    expect(await (await t.api('/api/engine')).text()).not.toContain(key)
    expect(await (await t.api('/health')).text()).not.toContain(key)
    expect(fs.readFileSync(path.join(t.dataDir, 'engine.pid'), 'utf8')).not.toContain(key)
    await t.stop()
    for (const log of ['engine.log', 'service.log']) expect(fs.readFileSync(path.join(t.dataDir, 'logs', log), 'utf8'), log).not.toContain(key)
  })

  it('starts every launch with a new key: the last one opens nothing', async () => {
    const { t } = await services.boot()
    await chat(t, 'model-a', 'a')
    const first = await engineStatus(t)
    const oldKey = environOf(first.pid!).VLLM_API_KEY
    expect((await chat(t, 'model-b', 'b')).choices[0].message.content).toBe('echo: b')
    const second = await engineStatus(t)
    expect(second.pid).not.toBe(first.pid)
    const newKey = environOf(second.pid!).VLLM_API_KEY
    expect(newKey).not.toBe(oldKey)
    expect((await fetch(`http://127.0.0.1:${second.port}/v1/models`, { headers: { authorization: `Bearer ${oldKey}` } })).status).toBe(401)
    expect((await chat(t, 'model-b', 'c')).choices[0].message.content).toBe('echo: c')
  })

  it('never takes another process on the engine port for the engine: nothing is sent to it, and the start fails saying so', async () => {
    const port = await freePort()
    // Something else binds the port first and answers everything, /health included.
    const impostor = await recorder((req, res) => {
      if (req.url === '/health') return void res.writeHead(200, { 'content-length': 0 }).end()
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 0, model: 'test-model-a', choices: [{ index: 0, message: { role: 'assistant', content: 'stolen' }, finish_reason: 'stop' }] }))
    }, port)
    try {
      const { t } = await services.boot({}, { enginePort: port })
      const e = (await chat(t, 'model-a', 'my secret prompt').catch((err: unknown) => err)) as InstanceType<typeof OpenAI.APIError>
      expect(e).toBeInstanceOf(OpenAI.APIError)
      expect(e.status).toBe(503)
      expect(e.message).toContain(`Port ${port} was answered by another process, not the engine`)
      const s = await engineStatus(t)
      expect(s.state).toBe('failed')
      expect(impostor.seen.length).toBeGreaterThan(0) // it was asked for /health...
      expect(impostor.seen.filter((r) => r.url !== '/health')).toEqual([]) // ...and never given a request
      expect(impostor.seen.every((r) => r.authorization === null)).toBe(true) // nor the key
    } finally {
      await impostor.close()
    }
  })
})

describe('media URLs in requests', () => {
  it('are not fetched from the workstation by default; data: URLs still work', async () => {
    const inside = await recorder((_req, res) => void res.writeHead(200, { 'content-type': 'image/png' }).end('png'))
    try {
      const { t, fake } = await services.boot()
      const ask = (url: string): Promise<unknown> =>
        t.client.chat.completions
          .create({ model: 'model-a', messages: [{ role: 'user', content: [{ type: 'text', text: 'describe' }, { type: 'image_url', image_url: { url } }] }] })
          .catch((err: unknown) => err)
      for (const url of [`http://127.0.0.1:${inside.port}/admin`, `http://localhost:${inside.port}/admin`]) {
        const e = (await ask(url)) as InstanceType<typeof OpenAI.BadRequestError>
        expect(e).toBeInstanceOf(OpenAI.BadRequestError)
        expect(e.message).toMatch(/must be from one of the allowed domains/)
      }
      expect(inside.seen).toEqual([])
      expect(await ask('data:image/png;base64,AAAA')).toMatchObject({ choices: [{ message: { content: 'echo: describe' } }] })
      const argv = fake.launches()[0].argv
      expect(argv.slice(argv.indexOf('--allowed-media-domains'), argv.indexOf('--allowed-media-domains') + 2)).toEqual(['--allowed-media-domains', 'media-fetching-disabled.invalid'])
    } finally {
      await inside.close()
    }
  })
  it('are fetched only from the hosts VBS_ALLOWED_MEDIA_DOMAINS lists', async () => {
    const inside = await recorder((_req, res) => void res.writeHead(200, { 'content-type': 'image/png' }).end('png'))
    try {
      const { t, fake } = await services.boot({}, { allowedMediaDomains: 'localhost' })
      const ask = (url: string): Promise<unknown> =>
        t.client.chat.completions
          .create({ model: 'model-a', messages: [{ role: 'user', content: [{ type: 'text', text: 'describe' }, { type: 'image_url', image_url: { url } }] }] })
          .catch((err: unknown) => err)
      expect(await ask(`http://localhost:${inside.port}/cat.png`)).toMatchObject({ choices: [{ message: { content: 'echo: describe' } }] })
      expect(inside.seen.map((r) => r.url)).toEqual(['/cat.png'])
      const refused = (await ask(`http://127.0.0.1:${inside.port}/admin`)) as InstanceType<typeof OpenAI.BadRequestError>
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError)
      expect(inside.seen).toHaveLength(1)
      const argv = fake.launches()[0].argv
      expect(argv.slice(argv.indexOf('--allowed-media-domains'), argv.indexOf('--allowed-media-domains') + 2)).toEqual(['--allowed-media-domains', 'localhost'])
    } finally {
      await inside.close()
    }
  })
})

describe('prompt_embeds', () => {
  const TENSOR = 'UEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAAQABIAYXJjaGl2ZS9kYXRhLnBrbA=='

  it('never reach a model that does not allow them, in real-time requests or batches; a model with allow_prompt_embeds gets them', async () => {
    const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'vbs-embeds-'))
    const modelsPath = path.join(dir, 'models.yaml')
    fs.writeFileSync(
      modelsPath,
      ['default: plain', 'models:', '  - id: plain', '    model: org/plain', '  - id: embeds', '    model: org/embeds', '    allow_prompt_embeds: true', ''].join('\n'),
    )
    const { t, fake } = await services.boot({}, { modelsPath })
    // The fake refuses prompt_embeds with vLLM's 400 unless started with --enable-prompt-embeds: a success for
    // `plain` means the field was taken out on the way.
    const plain = await t.client.completions.create({ model: 'plain', prompt: 'hello there', prompt_embeds: TENSOR } as OpenAI.Completions.CompletionCreateParamsNonStreaming)
    expect(plain.choices[0].text).toContain('hello there')
    const chatParts = await t.client.chat.completions.create({
      model: 'plain',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'kept' }, { type: 'prompt_embeds', data: TENSOR } as unknown as OpenAI.Chat.Completions.ChatCompletionContentPartText] }],
    })
    expect(chatParts.choices[0].message.content).toBe('echo: kept')

    const line = JSON.stringify({ custom_id: 'e-1', method: 'POST', url: '/v1/completions', body: { model: 'plain', prompt: 'from a batch', prompt_embeds: TENSOR } })
    const file = await t.client.files.create({ file: new File([`${line}\n`], 'embeds.jsonl'), purpose: 'batch' })
    const batch = await t.client.batches.create({ input_file_id: file.id, endpoint: '/v1/completions', completion_window: '24h' })
    const done = await waitForBatch(t.client, batch.id, ['validating', 'in_progress', 'finalizing'], 120_000)
    expect(done.status).toBe('completed')
    expect(done.request_counts).toMatchObject({ total: 1, completed: 1, failed: 0 })

    const allowed = await t.client.completions.create({ model: 'embeds', prompt_embeds: TENSOR } as unknown as OpenAI.Completions.CompletionCreateParamsNonStreaming)
    expect(allowed.choices[0].text).toContain('[prompt_embeds]')
    expect(fake.launches().map((l) => l.argv.includes('--enable-prompt-embeds'))).toEqual([false, true])
  })
})

describe('child processes', () => {
  it('inherit none of the service\'s secrets (vLLM keeps only the Hugging Face token), whatever runs them', async () => {
    const envLog = path.join(fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'vbs-env-')), 'nvidia-smi-env.jsonl')
    const { t } = await services.boot({ ...SECRETS, FAKE_NVIDIA_SMI_ENV_LOG: envLog })
    await chat(t, 'model-a', 'x')
    const vllm = environOf((await engineStatus(t)).pid!)
    expect(vllm.VBS_API_KEY).toBeUndefined()
    expect(vllm.VBS_ADMIN_KEY).toBeUndefined()
    expect(Object.keys(vllm).filter((k) => k.startsWith('VBS_'))).toEqual([])
    expect(vllm.HF_TOKEN).toBe(SECRETS.HF_TOKEN) // vLLM downloads gated models itself

    // nvidia-smi as the memory probe before a load, the telemetry sampler and the discovery run it.
    const runs = await eventually(() => {
      const lines = fs.existsSync(envLog) ? fs.readFileSync(envLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { args: string[]; env: string[] }) : []
      const sampler = lines.some((r) => r.args.some((a) => a === '-lms' || a.startsWith('--loop')))
      const probe = lines.some((r) => r.args.includes('--query-gpu=memory.total,memory.used,memory.free'))
      return sampler && probe ? lines : null
    }, 'nvidia-smi runs by the sampler and the memory probe')
    for (const run of runs) {
      expect(run.env.filter((k) => k.startsWith('VBS_') || k === 'HF_TOKEN'), run.args.join(' ')).toEqual([])
      expect(run.env).toContain('PATH')
    }
  })
})
