import fs from 'node:fs'
import path from 'node:path'
import { BATCH_ENDPOINTS, MAX_CUSTOM_ID_CHARS, type BatchEndpoint } from '../../main/contract/batches'
import { intOption } from '../args'
import { usageError } from '../exit-codes'
import type { Command } from '../command'
import { CsvError, parseCsv } from '../csv'
import { num } from '../format'
import { requestLineOf, templateColumns, TemplateError, type PromptRow } from '../make'

const FORMATS = ['csv', 'tsv', 'txt'] as const
type Format = (typeof FORMATS)[number]

function readUtf8(file: string): string {
  let bytes: Buffer
  try {
    bytes = file === '-' ? fs.readFileSync(0) : fs.readFileSync(file)
  } catch (err) {
    throw usageError(`vbs make: cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`)
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw usageError(`vbs make: ${file} is not UTF-8 text; save it as UTF-8 (in a spreadsheet: CSV UTF-8)`)
  }
}

/** The rows of a CSV/TSV file (the first record names the columns) or a text file (a prompt a line). */
function rowsOf(text: string, format: Format, file: string, idColumn: string | undefined): { columns: string[]; rows: PromptRow[] } {
  if (format === 'txt') {
    if (idColumn) throw usageError('vbs make: --id-column is for CSV files; a text file\'s requests are named line-N')
    const rows: PromptRow[] = []
    const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
    lines.forEach((l, i) => {
      if (l.trim() !== '') rows.push({ line: i + 1, id: `line-${i + 1}`, values: { prompt: l } })
    })
    return { columns: ['prompt'], rows }
  }
  let records
  try {
    records = parseCsv(text, format === 'tsv' ? '\t' : ',')
  } catch (err) {
    if (err instanceof CsvError) throw usageError(`vbs make: ${file} ${err.message}`)
    throw err
  }
  if (records.length === 0) throw usageError(`vbs make: ${file} is empty: its first line must name the columns`)
  const columns = records[0].fields.map((c) => c.trim())
  const twice = columns.find((c, i) => columns.indexOf(c) !== i)
  if (twice !== undefined) throw usageError(`vbs make: ${file} line 1: the column '${twice}' is named twice`)
  if (idColumn !== undefined && !columns.includes(idColumn)) throw usageError(`vbs make: --id-column '${idColumn}' is not a column of ${file} (it has ${columns.join(', ')})`)
  const seen = new Map<string, number>()
  const rows = records.slice(1).map((r, i): PromptRow => {
    if (r.fields.length !== columns.length) {
      throw usageError(`vbs make: ${file} line ${r.line}: ${r.fields.length} fields, but the header has ${columns.length} (a field with a comma or a line break must be quoted: "a, b")`)
    }
    const values = Object.fromEntries(columns.map((c, k) => [c, r.fields[k]]))
    const id = idColumn !== undefined ? values[idColumn] : `row-${i + 1}`
    if (id === '') throw usageError(`vbs make: ${file} line ${r.line}: the --id-column '${idColumn}' is empty`)
    if ([...id].length > MAX_CUSTOM_ID_CHARS) throw usageError(`vbs make: ${file} line ${r.line}: the id is longer than ${MAX_CUSTOM_ID_CHARS} characters`)
    const first = seen.get(id)
    if (first !== undefined) throw usageError(`vbs make: ${file} line ${r.line}: the id '${id}' is already used on line ${first}; ids must be unique`)
    seen.set(id, r.line)
    return { line: r.line, id, values }
  })
  return { columns, rows }
}

export const make: Command = {
  name: 'make',
  usage: 'PROMPTS.csv|.tsv|.txt --model M [--system TEXT] [--template \'{column}\'] [--id-column C] > requests.jsonl',
  summary: 'turn a table or a list of prompts into batch request lines (JSONL on stdout)',
  options: {
    model: { kind: 'value', short: 'm', value: 'M', help: 'the model every request names (required)' },
    system: { kind: 'value', value: 'TEXT', help: 'a system message before each prompt (chat)' },
    template: { kind: 'value', short: 't', value: 'T', help: 'the prompt, with {column} for a CSV column ({prompt} for a text file\'s line); {{ }} are literal braces' },
    'id-column': { kind: 'value', value: 'C', help: 'the column holding each request\'s custom_id (default: row-N, line-N for text)' },
    endpoint: { kind: 'value', short: 'e', value: 'E', help: `${BATCH_ENDPOINTS.join(', ')} (default /v1/chat/completions)` },
    'max-tokens': { kind: 'value', value: 'N', help: 'max_tokens of each request' },
    format: { kind: 'value', value: 'F', help: `${FORMATS.join(', ')} (default: from the file's extension; needed for - = stdin)` },
    out: { kind: 'value', short: 'o', value: 'FILE', help: 'write to FILE instead of stdout' },
  },
  details:
    'A CSV\'s first line names its columns; without --template the column "prompt" is used, or the only column. ' +
    'Fields are RFC 4180: quoted with " when they hold a comma, a quote ("") or a line break. The file must be UTF-8.',
  run: async ({ args, out }) => {
    const [file, ...rest] = args.positionals
    if (!file) throw usageError('vbs make: give the prompts file (.csv, .tsv or .txt; - for stdin with --format)')
    if (rest.length > 0) throw usageError(`vbs make: one file at a time, got ${args.positionals.length}`)
    const model = args.values.get('model')
    if (!model) throw usageError('vbs make: --model is required (the model every request names; vbs models lists them)')
    const endpoint = (args.values.get('endpoint') ?? '/v1/chat/completions') as BatchEndpoint
    if (!BATCH_ENDPOINTS.includes(endpoint)) throw usageError(`vbs make: --endpoint must be one of ${BATCH_ENDPOINTS.join(', ')}, got '${endpoint}'`)
    const ext = path.extname(file).slice(1).toLowerCase()
    const format = (args.values.get('format') ?? ext) as Format
    if (!FORMATS.includes(format)) {
      throw usageError(args.values.has('format') ? `vbs make: --format must be one of ${FORMATS.join(', ')}` : `vbs make: cannot tell the format of ${file}: name it .csv, .tsv or .txt, or give --format`)
    }
    const maxTokens = intOption(args, 'max-tokens', 'make', { min: 1, max: 10_000_000 })
    const { columns, rows } = rowsOf(readUtf8(file), format, file, args.values.get('id-column'))
    let template = args.values.get('template')
    if (template === undefined) {
      const own = columns.filter((c) => c !== args.values.get('id-column'))
      const pick = columns.includes('prompt') ? 'prompt' : own.length === 1 ? own[0] : null
      if (pick === null) throw usageError(`vbs make: ${file} has the columns ${columns.join(', ')}; say which make the prompt with --template, e.g. --template '{${own[0] ?? columns[0]}}'`)
      template = `{${pick.replace(/[{}]/g, (b) => b + b)}}`
    }
    let used: string[]
    try {
      used = templateColumns(template)
    } catch (err) {
      if (err instanceof TemplateError) throw usageError(`vbs make: ${err.message}`)
      throw err
    }
    const unknown = used.find((c) => !columns.includes(c))
    if (unknown !== undefined) throw usageError(`vbs make: --template uses {${unknown}}, which is not a column of ${file} (it has ${columns.join(', ')})`)
    if (rows.length === 0) throw usageError(`vbs make: ${file} holds no prompts`)
    const options = { model, endpoint, template, system: args.values.get('system'), maxTokens }
    const text = rows.map((r) => `${requestLineOf(r, options)}\n`).join('')
    const dest = args.values.get('out')
    if (dest !== undefined) {
      try {
        fs.writeFileSync(dest, text)
      } catch (err) {
        throw usageError(`vbs make: cannot write ${dest}: ${(err as Error).message}`)
      }
    } else {
      process.stdout.write(text)
    }
    out.note(`made ${num(rows.length)} requests for ${model} from ${file}${dest ? ` into ${dest}` : ''}`)
    return 0
  },
}
