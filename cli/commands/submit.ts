import fs from 'node:fs'
import { BATCH_ENDPOINTS } from '../../main/contract/batches'
import type { BatchObject } from '../../main/contract/batches'
import { usageError } from '../exit-codes'
import { JSON_OPTION, type Command } from '../command'
import { finishWait } from '../job-end'
import { checkInputFile, uploadInput } from '../upload'
import { waitForJob } from '../wait'

/** `--metadata k=v` pairs as the Batch API takes them (16 at most, keys to 64 characters, values to 512). */
export function metadataOf(pairs: readonly string[], command: string): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined
  const metadata: Record<string, string> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw usageError(`vbs ${command}: --metadata takes key=value, got '${pair}'`)
    const key = pair.slice(0, eq)
    const value = pair.slice(eq + 1)
    if (key.length > 64) throw usageError(`vbs ${command}: metadata key '${key.slice(0, 20)}...' is longer than 64 characters`)
    if (value.length > 512) throw usageError(`vbs ${command}: metadata value of '${key}' is longer than 512 characters`)
    metadata[key] = value
  }
  if (Object.keys(metadata).length > 16) throw usageError(`vbs ${command}: at most 16 --metadata pairs, got ${Object.keys(metadata).length}`)
  return metadata
}

/** The endpoint a file's first request names (`url`), or null when it cannot be read from it. */
export function endpointOfFile(file: string): string | null {
  const fd = fs.openSync(file, 'r')
  try {
    const buf = Buffer.alloc(1024 * 1024)
    const n = fs.readSync(fd, buf, 0, buf.length, 0)
    for (const line of buf.subarray(0, n).toString('utf8').split('\n')) {
      if (line.trim() === '') continue
      try {
        const url = (JSON.parse(line) as { url?: unknown }).url
        return typeof url === 'string' ? url : null
      } catch {
        return null
      }
    }
    return null
  } finally {
    fs.closeSync(fd)
  }
}

export function checkEndpoint(endpoint: string, command: string): string {
  if (!(BATCH_ENDPOINTS as readonly string[]).includes(endpoint)) throw usageError(`vbs ${command}: --endpoint must be one of ${BATCH_ENDPOINTS.join(', ')}, got '${endpoint}'`)
  return endpoint
}

export const submit: Command = {
  name: 'submit',
  usage: 'FILE.jsonl [--model M] [--endpoint E] [--metadata k=v]... [--wait] [--out DIR]',
  summary: 'upload a requests file and start a batch on it; --wait follows it to the end',
  options: {
    model: { kind: 'value', short: 'm', value: 'M', help: 'run every request on this model (an id or alias of models.yaml), whatever the lines name' },
    endpoint: { kind: 'value', short: 'e', value: 'E', help: `${BATCH_ENDPOINTS.join(', ')} (default: the first line's url)` },
    metadata: { kind: 'list', value: 'k=v', help: 'metadata of the batch; give it once per pair (at most 16)' },
    wait: { kind: 'switch', short: 'w', help: 'follow the batch to its end with a live progress; the exit code says how it ended' },
    out: { kind: 'value', short: 'o', value: 'DIR', help: 'with --wait: write the output and error files into DIR' },
    ...JSON_OPTION,
  },
  details: 'Ctrl-C while waiting leaves the batch running; vbs wait ID reattaches.',
  run: async ({ args, out, api }) => {
    if (args.positionals.length > 1) throw usageError(`vbs submit: one file at a time, got ${args.positionals.length}`)
    const { file, size } = checkInputFile(args.positionals[0], 'submit')
    const outDir = args.values.get('out')
    const wait = args.switches.has('wait')
    if (outDir !== undefined && !wait) throw usageError('vbs submit: --out needs --wait (or use vbs download ID --out DIR later)')
    const endpoint = checkEndpoint(args.values.get('endpoint') ?? endpointOfFile(file) ?? '/v1/chat/completions', 'submit')
    const metadata = metadataOf(args.lists.get('metadata') ?? [], 'submit')
    const model = args.values.get('model')
    const client = api()
    const uploaded = await uploadInput(client, file, size, out)
    const batch = await client.json<BatchObject>('POST', '/v1/batches', {
      input_file_id: uploaded.id,
      endpoint,
      completion_window: '24h',
      ...(metadata ? { metadata } : {}),
      ...(model !== undefined ? { model } : {}),
    })
    if (!wait) {
      out.result(batch, () => `created ${batch.id} (${batch.status})\nfollow it with: vbs wait ${batch.id}`)
      return 0
    }
    out.say(`created ${batch.id} (${batch.status}); waiting for it (Ctrl-C stops waiting, not the batch)`)
    return finishWait(client, await waitForJob(client, batch.id, out), out, outDir)
  },
}
