import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import OpenAI from 'openai'
import OpenAIv4 from 'openai-v4'
import { Service, type ServiceOptions } from '../../main/service'
import type { Settings } from '../../main/config/settings'

export const ROOT = path.resolve(__dirname, '..', '..')
export const FIXTURES = path.join(ROOT, 'tests', 'fixtures')
export const TEST_MODELS = path.join(FIXTURES, 'models.yaml')

export function tempDir(prefix = 'vbs-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

export interface TestService {
  service: Service
  url: string
  apiKey: string
  dataDir: string
  /** The latest major of the official SDK. */
  client: OpenAI
  /** SDK v4 (still common on LAN clients), installed through an npm alias. */
  clientV4: OpenAIv4
  /** fetch against the service with the API key. */
  api: (pathname: string, init?: RequestInit) => Promise<Response>
  stop: () => Promise<void>
}

/** Starts the real service (real Koa on port 0, real SQLite in a temp dir). */
export async function startService(overrides: Partial<Settings> = {}, dataDir = tempDir(), env: NodeJS.ProcessEnv = {}, options: Pick<ServiceOptions, 'clock'> = {}): Promise<TestService> {
  const service = new Service({
    ...options,
    env,
    overrides: {
      dataDir,
      host: '127.0.0.1',
      port: 0,
      apiKey: 'test-key',
      modelsPath: TEST_MODELS,
      ...overrides,
    },
  })
  const url = await service.start()
  const apiKey = service.apiKey
  const common = { apiKey, baseURL: `${url}/v1`, maxRetries: 0, timeout: 60_000 }
  return {
    service,
    url,
    apiKey,
    dataDir,
    client: new OpenAI(common),
    clientV4: new OpenAIv4(common),
    api: (pathname, init = {}) =>
      fetch(`${url}${pathname}`, {
        ...init,
        headers: { authorization: `Bearer ${apiKey}`, ...(init.headers as Record<string, string> | undefined) },
      }),
    stop: () => service.stop(),
  }
}

/** One batch input line. */
export function requestLine(customId: string, overrides: Record<string, unknown> = {}, body: Record<string, unknown> = {}): string {
  return JSON.stringify({
    custom_id: customId,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'test-model-a', messages: [{ role: 'user', content: `Say ${customId}` }], ...body },
    ...overrides,
  })
}

export function jsonl(count: number, prefix = 'req'): string {
  let out = ''
  for (let i = 1; i <= count; i++) out += `${requestLine(`${prefix}-${i}`)}\n`
  return out
}

/** Polls until the batch leaves the given statuses; bounded. */
export async function waitForBatch(
  client: OpenAI,
  id: string,
  leave: string[] = ['validating'],
  timeoutMs = 60_000,
): Promise<OpenAI.Batches.Batch> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const batch = await client.batches.retrieve(id)
    if (!leave.includes(batch.status)) return batch
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${batch.status} after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** Names of the files in a folder (empty when it does not exist). */
export function listDir(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir) : []
}
