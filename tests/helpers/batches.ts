import OpenAI, { toFile } from 'openai'
import { eventually } from './fake-engine'
import type { TestService } from './service'

/** Uploads `text` as a batch input file and creates a chat-completions batch on it, through the SDK. */
export async function submitBatch(t: TestService, text: string): Promise<OpenAI.Batches.Batch> {
  const file = await t.client.files.create({ file: await toFile(Buffer.from(text), 'in.jsonl'), purpose: 'batch' })
  return t.client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
}

/** Polls a batch until it reaches one of `statuses` (bounded). */
export async function batchReaches(t: TestService, id: string, statuses: string[], timeoutMs = 120_000): Promise<OpenAI.Batches.Batch> {
  return eventually(async () => {
    const b = await t.client.batches.retrieve(id)
    return statuses.includes(b.status) ? b : null
  }, `batch ${id} to reach ${statuses.join('/')}`, timeoutMs)
}
