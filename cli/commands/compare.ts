import type { Comparison, NewComparison } from '../../main/contract/comparisons'
import { EXIT, usageError } from '../exit-codes'
import { JSON_OPTION, type Command } from '../command'
import { num, table } from '../format'
import { checkInputFile, uploadInput } from '../upload'
import { waitForJob } from '../wait'
import { checkEndpoint, endpointOfFile } from './submit'

function figures(c: Comparison): string {
  const pct = (v: number | null): string => (v === null ? '-' : `${(v * 100).toFixed(1)}%`)
  const rows = c.arms.map((a) => [
    a.model,
    a.batch_id,
    a.status,
    `${num(a.completed)}/${num(a.total)}`,
    num(a.failed),
    a.mean_latency_ms === null ? '-' : `${num(Math.round(a.mean_latency_ms))} ms`,
    a.tokens_per_second === null ? '-' : a.tokens_per_second.toFixed(1),
    pct(a.agreement.exact),
  ])
  return `${c.id}${c.name ? ` (${c.name})` : ''}: ${num(c.rows)} rows on ${c.models.join(', ')}\n` + table(['MODEL', 'BATCH', 'STATUS', 'OK', 'FAILED', 'MEAN LATENCY', 'TOK/S', 'AGREE'], rows)
}

export const compare: Command = {
  name: 'compare',
  usage: 'FILE.jsonl --models A,B[,C,D] [--name NAME] [--wait]',
  summary: 'run one requests file on 2 to 4 models (a batch each) and compare their answers',
  options: {
    models: { kind: 'value', value: 'A,B', help: 'the models, comma-separated (ids or aliases of models.yaml)' },
    name: { kind: 'value', value: 'NAME', help: 'a name for the comparison' },
    endpoint: { kind: 'value', short: 'e', value: 'E', help: 'the endpoint (default: the first line\'s url)' },
    wait: { kind: 'switch', short: 'w', help: 'follow every batch to its end, then print the figures' },
    ...JSON_OPTION,
  },
  details: 'The rows, votes and exports are in the window (#/compare) and under /api/comparisons.',
  run: async ({ args, out, api }) => {
    if (args.positionals.length > 1) throw usageError(`vbs compare: one file at a time, got ${args.positionals.length}`)
    const { file, size } = checkInputFile(args.positionals[0], 'compare')
    const models = (args.values.get('models') ?? '').split(',').map((m) => m.trim()).filter(Boolean)
    if (models.length < 2 || models.length > 4) throw usageError(`vbs compare: --models takes 2 to 4 models, comma-separated (e.g. --models a,b), got ${models.length}`)
    const endpoint = checkEndpoint(args.values.get('endpoint') ?? endpointOfFile(file) ?? '/v1/chat/completions', 'compare')
    const client = api()
    const uploaded = await uploadInput(client, file, size, out)
    const name = args.values.get('name')
    const body: NewComparison = { input_file_id: uploaded.id, models, endpoint, ...(name ? { name } : {}) }
    const created = await client.json<Comparison>('POST', '/api/comparisons', body)
    if (!args.switches.has('wait')) {
      out.result(created, () => `${figures(created)}\nfollow it with: vbs compare --wait, or vbs wait ${created.arms[0].batch_id} and the others`)
      return 0
    }
    out.say(`created ${created.id}: ${created.arms.map((a) => `${a.model} ${a.batch_id}`).join(', ')}; waiting for them (one runs after the other)`)
    for (const arm of created.arms) {
      const result = await waitForJob(client, arm.batch_id, out)
      if (!result.ended) {
        out.say(`\nStopped waiting: the batches of ${created.id} go on. Reattach with: vbs wait ${arm.batch_id} (then the others)`)
        return EXIT.interrupted
      }
    }
    const done = await client.json<Comparison>('GET', `/api/comparisons/${created.id}`)
    out.result(done, () => figures(done))
    return done.arms.every((a) => a.status === 'completed') ? EXIT.ok : EXIT.jobFailed
  },
}
