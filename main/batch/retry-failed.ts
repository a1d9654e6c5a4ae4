import fs from 'node:fs'
import { ApiError } from '../api-error'
import type { Store } from '../store'
import type { FileService } from '../files/file-service'
import type { BatchService } from './batch-service'
import type { BatchObject } from '../contract/batches'

/**
 * Makes a new batch from the requests of `batchId` that failed: their lines copied byte for byte from the
 * original input into a new input file, the two batches linked by metadata (`retry_of` on the new one,
 * `retried_by` on the old one).
 */
export async function retryFailed(store: Store, files: FileService, batches: BatchService, batchId: string): Promise<BatchObject> {
  const original = batches.get(batchId)
  if (!['completed', 'cancelled', 'expired'].includes(original.status)) {
    throw new ApiError(409, `Batch ${batchId} is ${original.status}; its failed requests can be retried once it has ended.`, {
      code: 'batch_not_ended',
      headers: { 'x-should-retry': 'false' },
    })
  }
  const seq = store.batches.seqOf(batchId)
  const input = await fs.promises.open(files.pathOf(original.input_file_id), 'r').catch(() => {
    throw new ApiError(409, `The input file ${original.input_file_id} of batch ${batchId} was deleted; its failed requests cannot be read.`, {
      code: 'input_file_deleted',
    })
  })
  const temp = files.tempPath()
  const out = fs.createWriteStream(temp, { flags: 'wx' })
  let count = 0
  let bytes = 0
  try {
    for (const r of store.results.failed(seq)) {
      const buf = Buffer.alloc(r.length + 1)
      await input.read(buf, 0, r.length, r.offset)
      buf[r.length] = 0x0a
      count += 1
      bytes += buf.length
      if (!out.write(buf)) await new Promise<void>((resolve) => out.once('drain', resolve))
    }
  } finally {
    await input.close()
    await new Promise<void>((resolve) => out.end(() => resolve()))
  }
  if (count === 0) {
    fs.rmSync(temp, { force: true })
    throw new ApiError(400, `Batch ${batchId} has no failed requests to retry.`, { code: 'nothing_to_retry' })
  }
  const file = files.commit({ tempPath: temp, filename: `${batchId}_failed.jsonl`, purpose: 'batch', bytes, lineCount: count, expiresAfter: null })
  const metadata: Record<string, string> = { retry_of: batchId }
  const retry = batches.create({ input_file_id: file.id, endpoint: original.endpoint, completion_window: original.completion_window, metadata })
  const oldMeta = original.metadata ?? {}
  if (Object.keys(oldMeta).length < 16 || 'retried_by' in oldMeta) {
    store.batches.update(batchId, { metadata: JSON.stringify({ ...oldMeta, retried_by: retry.id }) })
  }
  return retry
}
