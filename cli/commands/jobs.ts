import type { BatchObject } from '../../main/contract/batches'
import type { Job, JobPage } from '../../main/contract/jobs'
import { intOption } from '../args'
import { usageError } from '../exit-codes'
import { JSON_OPTION, type Command, type CommandContext } from '../command'
import { num, table, when } from '../format'
import { downloadResults, endLine, finishWait } from '../job-end'
import { FINAL_STATUSES, jobErrors, progressLine } from '../progress'
import { getJob, waitForJob } from '../wait'

const BATCH_ID = /^batch_[A-Za-z0-9]{1,64}$/

/** The one batch id a command takes, checked before anything is sent. */
export function batchIdArg(ctx: CommandContext, command: string): string {
  const [id, ...rest] = ctx.args.positionals
  if (!id) throw usageError(`vbs ${command}: give the batch id (batch_...; vbs ls lists them)`)
  if (rest.length > 0) throw usageError(`vbs ${command}: one batch id, got ${ctx.args.positionals.length}`)
  if (!BATCH_ID.test(id)) throw usageError(`vbs ${command}: '${id}' is not a batch id (they look like batch_abc123)`)
  return id
}

const OUT_OPTION = { out: { kind: 'value', short: 'o', value: 'DIR', help: 'write the output and error files into DIR once it ends' } } as const

async function follow(ctx: CommandContext, id: string): Promise<number> {
  const api = ctx.api()
  return finishWait(api, await waitForJob(api, id, ctx.out), ctx.out, ctx.args.values.get('out'))
}

export const ls: Command = {
  name: 'ls',
  aliases: ['list'],
  usage: '[--limit N]',
  summary: 'list batches, newest first, with their progress',
  options: { limit: { kind: 'value', short: 'n', value: 'N', help: 'how many (1-100, default 20)' }, ...JSON_OPTION },
  run: async (ctx) => {
    const limit = intOption(ctx.args, 'limit', 'ls', { min: 1, max: 100 }) ?? 20
    const page = await ctx.api().json<JobPage>('GET', `/api/batches?limit=${limit}`)
    ctx.out.result(page, () => {
      if (page.data.length === 0) return 'no batches yet (vbs submit FILE.jsonl starts one)'
      const rows = page.data.map((j) => {
        const c = j.request_counts
        const hold = j.hold && !FINAL_STATUSES.includes(j.status) ? `held: ${j.hold.kind}` : ''
        return [j.id, j.status, j.model ?? '-', `${num(c.completed + c.failed)}/${num(c.total)}`, num(c.failed), when(j.created_at), hold]
      })
      const paused = page.paused ? '\n(batches are paused: vbs does not resume them; the window or POST /api/batches/resume does)' : ''
      return table(['ID', 'STATUS', 'MODEL', 'DONE', 'FAILED', 'CREATED', ''], rows) + (page.has_more ? `\n(more: --limit ${Math.min(100, limit * 2)})` : '') + paused
    })
    return 0
  },
}

function describe(job: Job): string {
  const lines = [
    progressLine(job),
    `  endpoint ${job.endpoint}  model ${job.model ?? '-'}  input ${job.input_file_id}`,
    `  created ${when(job.created_at)}${job.completed_at ? `  completed ${when(job.completed_at)}` : ''}${job.failed_at ? `  failed ${when(job.failed_at)}` : ''}${job.cancelled_at ? `  cancelled ${when(job.cancelled_at)}` : ''}${job.expired_at ? `  expired ${when(job.expired_at)}` : ''}`,
  ]
  if (job.output_file_id || job.error_file_id) lines.push(`  output ${job.output_file_id ?? '-'}  errors ${job.error_file_id ?? '-'}`)
  if (job.metadata && Object.keys(job.metadata).length > 0) lines.push(`  metadata ${Object.entries(job.metadata).map(([k, v]) => `${k}=${v}`).join(' ')}`)
  lines.push(...jobErrors(job))
  return lines.join('\n')
}

export const status: Command = {
  name: 'status',
  usage: 'ID [--watch] [--out DIR]',
  summary: 'show a batch; --watch follows it to its end (as vbs wait)',
  options: { watch: { kind: 'switch', short: 'w', help: 'follow it with a live progress until it ends; exit code as vbs wait' }, ...OUT_OPTION, ...JSON_OPTION },
  run: async (ctx) => {
    const id = batchIdArg(ctx, 'status')
    if (ctx.args.switches.has('watch')) return follow(ctx, id)
    if (ctx.args.values.has('out')) throw usageError('vbs status: --out needs --watch (or use vbs download ID --out DIR)')
    const job = await getJob(ctx.api(), id)
    ctx.out.result(job, () => describe(job))
    return 0
  },
}

export const wait: Command = {
  name: 'wait',
  aliases: ['attach'],
  usage: 'ID [--out DIR]',
  summary: 'follow a batch to its end (reattach after Ctrl-C); exit 0 completed, 1 failed/cancelled/expired',
  options: { ...OUT_OPTION, ...JSON_OPTION },
  run: (ctx) => follow(ctx, batchIdArg(ctx, 'wait')),
}

export const cancel: Command = {
  name: 'cancel',
  usage: 'ID',
  summary: 'cancel a batch: requests in flight finish, the rest never run; partial output is kept',
  options: { ...JSON_OPTION },
  run: async (ctx) => {
    const id = batchIdArg(ctx, 'cancel')
    const batch = await ctx.api().json<BatchObject>('POST', `/v1/batches/${id}/cancel`)
    ctx.out.result(batch, () => `${batch.id} ${batch.status}${batch.status === 'cancelling' ? ' (vbs wait ' + batch.id + ' follows it to cancelled)' : ''}`)
    return 0
  },
}

export const download: Command = {
  name: 'download',
  usage: 'ID [--out DIR]',
  summary: 'write a finished batch\'s output and error files into DIR (default: here)',
  options: { out: { kind: 'value', short: 'o', value: 'DIR', help: 'the folder (made if missing; default .)' }, ...JSON_OPTION },
  run: async (ctx) => {
    const id = batchIdArg(ctx, 'download')
    const api = ctx.api()
    const job = await getJob(api, id)
    if (!FINAL_STATUSES.includes(job.status)) throw usageError(`vbs download: ${id} is ${job.status}; its files are written when it ends (vbs wait ${id} --out DIR waits for them)`)
    const files = await downloadResults(api, job, ctx.args.values.get('out') ?? '.', ctx.out)
    ctx.out.result({ id, status: job.status, downloaded: files }, () => endLine(job))
    return 0
  },
}

export const retry: Command = {
  name: 'retry',
  usage: 'ID [--wait] [--out DIR]',
  summary: 'run a finished batch\'s failed requests again, as a new batch',
  options: { wait: { kind: 'switch', short: 'w', help: 'follow the new batch to its end' }, ...OUT_OPTION, ...JSON_OPTION },
  run: async (ctx) => {
    const id = batchIdArg(ctx, 'retry')
    const outDir = ctx.args.values.get('out')
    if (outDir !== undefined && !ctx.args.switches.has('wait')) throw usageError('vbs retry: --out needs --wait')
    const api = ctx.api()
    const batch = await api.json<BatchObject>('POST', `/api/batches/${id}/retry-failed`)
    if (!ctx.args.switches.has('wait')) {
      ctx.out.result(batch, () => `created ${batch.id} from the failed requests of ${id} (${batch.status})\nfollow it with: vbs wait ${batch.id}`)
      return 0
    }
    ctx.out.say(`created ${batch.id} from the failed requests of ${id}; waiting for it`)
    return finishWait(api, await waitForJob(api, batch.id, ctx.out), ctx.out, outDir)
  },
}
