import { RESULT_STATES, type ResultPage } from '../../main/contract/results'
import type { ModelList } from '../../main/contract/models'
import { intOption } from '../args'
import { usageError } from '../exit-codes'
import { JSON_OPTION, type Command } from '../command'
import { num, oneLine, table } from '../format'
import { batchIdArg } from './jobs'

export const results: Command = {
  name: 'results',
  usage: 'ID [--state S] [--search TEXT] [--limit N] [--offset N]',
  summary: 'page a batch\'s requests with their answers (while it runs and after)',
  options: {
    state: { kind: 'value', short: 's', value: 'S', help: `only ${RESULT_STATES.join(', ')}` },
    search: { kind: 'value', short: 'q', value: 'TEXT', help: 'full text over prompt and answer (every word must match)' },
    limit: { kind: 'value', short: 'n', value: 'N', help: 'rows (1-500, default 20)' },
    offset: { kind: 'value', value: 'N', help: 'rows to skip' },
    ...JSON_OPTION,
  },
  run: async (ctx) => {
    const id = batchIdArg(ctx, 'results')
    const state = ctx.args.values.get('state')
    if (state !== undefined && !(RESULT_STATES as readonly string[]).includes(state)) throw usageError(`vbs results: --state must be one of ${RESULT_STATES.join(', ')}, got '${state}'`)
    const limit = intOption(ctx.args, 'limit', 'results', { min: 1, max: 500 }) ?? 20
    const offset = intOption(ctx.args, 'offset', 'results', { min: 0, max: Number.MAX_SAFE_INTEGER }) ?? 0
    const q = new URLSearchParams({ limit: String(limit), offset: String(offset) })
    if (state) q.set('state', state)
    const search = ctx.args.values.get('search')
    if (search) q.set('q', search)
    const page = await ctx.api().json<ResultPage>('GET', `/api/batches/${id}/results?${q}`)
    ctx.out.result(page, () => {
      if (page.data.length === 0) return `no requests match (${num(page.total)} in all)`
      const width = Math.max(30, (process.stdout.columns || 120) - 60)
      const rows = page.data.map((r) => [String(r.line), oneLine(r.custom_id, 24), r.state, r.status_code === null ? '-' : String(r.status_code), r.latency_ms === null ? '-' : `${num(r.latency_ms)} ms`, oneLine(r.preview ?? '', width)])
      const more = page.has_more ? `\n(${num(page.total)} match; next page: --offset ${offset + page.data.length})` : ''
      return table(['LINE', 'CUSTOM_ID', 'STATE', 'HTTP', 'LATENCY', 'ANSWER'], rows) + more
    })
    return 0
  },
}

export const models: Command = {
  name: 'models',
  usage: '',
  summary: 'list the models the server can run (models.yaml)',
  options: { ...JSON_OPTION },
  run: async (ctx) => {
    if (ctx.args.positionals.length > 0) throw usageError(`vbs models: takes no arguments, got '${ctx.args.positionals[0]}'`)
    const list = await ctx.api().json<ModelList>('GET', '/v1/models')
    ctx.out.result(list, () =>
      table(
        ['ID', 'ENGINE', 'LOADED', 'ALIASES'],
        list.data.map((m) => [m.id, m.engine, m.loaded ? 'yes' : m.downloaded === false ? 'no (not downloaded)' : 'no', m.aliases.join(', ')]),
      ),
    )
    return 0
  },
}
