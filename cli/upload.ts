import fs from 'node:fs'
import type { FileObject } from '../main/contract/files'
import { usageError } from './exit-codes'
import { bytes } from './format'
import type { ApiClient } from './http-client'
import type { Output } from './output'

/** Uploads at least this big show a progress bar on a terminal. */
const BAR_FROM_BYTES = 1024 * 1024

/** Checks that `file` is a readable regular file (a usage error naming it otherwise) and returns its size. */
export function checkInputFile(file: string | undefined, command: string): { file: string; size: number } {
  if (!file) throw usageError(`vbs ${command}: give the requests file (a .jsonl) to send`)
  let stat: fs.Stats
  try {
    stat = fs.statSync(file)
    fs.accessSync(file, fs.constants.R_OK)
  } catch (err) {
    throw usageError(`vbs ${command}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`)
  }
  if (!stat.isFile()) throw usageError(`vbs ${command}: ${file} is not a file`)
  if (!file.endsWith('.jsonl')) throw usageError(`vbs ${command}: ${file} must be a .jsonl file (one request a line), as the Batch API requires; vbs make turns a CSV or a list of prompts into one`)
  return { file, size: stat.size }
}

/** Uploads a batch input file, with a bar on a terminal for big files; says what it became. */
export async function uploadInput(api: ApiClient, file: string, size: number, out: Output): Promise<FileObject> {
  const uploaded = await api.upload(file, 'batch', size >= BAR_FROM_BYTES ? (sent, total) => out.transfer('uploading', sent, total, bytes) : undefined)
  out.say(`uploaded ${file} as ${uploaded.id} (${bytes(uploaded.bytes)})`)
  return uploaded
}

