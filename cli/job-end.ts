import fs from 'node:fs'
import path from 'node:path'
import type { FileObject } from '../main/contract/files'
import type { Job } from '../main/contract/jobs'
import { CliError, EXIT } from './exit-codes'
import { bytes, num } from './format'
import type { ApiClient } from './http-client'
import type { Output } from './output'
import { jobErrors } from './progress'
import type { WaitResult } from './wait'

/** The exit code a job's final status means: 0 completed, 1 failed, cancelled or expired. */
export function exitOf(job: Job): number {
  return job.status === 'completed' ? EXIT.ok : EXIT.jobFailed
}

/** What a finished job came to, in a line. */
export function endLine(job: Job): string {
  const c = job.request_counts
  return `${job.id} ${job.status}: ${num(c.completed)} ok, ${num(c.failed)} failed of ${num(c.total)}`
}

export interface Downloaded {
  kind: 'output' | 'errors'
  file_id: string
  path: string
  bytes: number
}

/**
 * Writes a job's output and error files into `dir` under the names the service gave them
 * (`<batch>_output.jsonl`, `<batch>_error.jsonl`), streamed and renamed into place when complete.
 */
export async function downloadResults(api: ApiClient, job: Job, dir: string, out: Output): Promise<Downloaded[]> {
  try {
    fs.mkdirSync(dir, { recursive: true })
  } catch (err) {
    throw new CliError(`cannot create the folder ${dir}: ${(err as Error).message}`, EXIT.usage)
  }
  const done: Downloaded[] = []
  for (const [kind, fileId] of [['output', job.output_file_id], ['errors', job.error_file_id]] as const) {
    if (!fileId) continue
    const meta = await api.json<FileObject>('GET', `/v1/files/${encodeURIComponent(fileId)}`)
    // The name comes from the server: only its last part is used, so it cannot point outside `dir`.
    const name = path.basename(meta.filename.replace(/\\/g, '/')) || `${fileId}.jsonl`
    const dest = path.join(dir, name === '.' || name === '..' ? `${fileId}.jsonl` : name)
    const n = await api.download(`/v1/files/${encodeURIComponent(fileId)}/content`, dest)
    done.push({ kind, file_id: fileId, path: dest, bytes: n })
    out.say(`wrote ${dest} (${bytes(n)})`)
  }
  if (done.length === 0) out.say(`${job.id} has no output or error file`)
  return done
}

/**
 * Ends a command that waited: interrupted (the job goes on; how to reattach), or ended (its summary, its
 * errors, its files into `outDir` when asked). Returns the exit code.
 */
export async function finishWait(api: ApiClient, result: WaitResult, out: Output, outDir: string | undefined): Promise<number> {
  const job = result.job
  if (!result.ended) {
    out.say(`\nStopped waiting: ${job.id} goes on (${job.status}) on the server.`)
    out.say(`Reattach with: vbs wait ${job.id}${outDir ? ` --out ${outDir}` : ''}    Cancel it with: vbs cancel ${job.id}`)
    return EXIT.interrupted
  }
  let files: Downloaded[] = []
  if (outDir !== undefined) files = await downloadResults(api, job, outDir, out)
  out.result({ ...job, downloaded: files }, () => [endLine(job), ...jobErrors(job)].join('\n'))
  return exitOf(job)
}
