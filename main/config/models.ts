import fs from 'node:fs'
import path from 'node:path'
import Ajv, { type ErrorObject } from 'ajv'
import { LineCounter, parseDocument, isNode } from 'yaml'
import { appRoot } from './app-paths'

/** One model of the registry: what clients call it and what vLLM loads. */
export interface ModelEntry {
  /** The name clients send as `model` (and vLLM's --served-model-name). */
  id: string
  aliases: string[]
  /** A Hugging Face id or a local path, handed to `vllm serve`. */
  model: string
  description?: string
  max_model_len?: number
  gpu_memory_utilization?: number
  quantization?: string
  dtype?: string
  max_num_seqs?: number
  extra_args?: string[]
  env?: Record<string, string>
  load_timeout_s?: number
  /** Estimated GPU memory the model needs, in GiB. */
  vram_gb?: number
}

export interface ModelsFile {
  default?: string
  models: ModelEntry[]
}

const NAME = '^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$'

export const modelsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['models'],
  properties: {
    default: { type: 'string', pattern: NAME },
    models: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'model'],
        properties: {
          id: { type: 'string', pattern: NAME },
          aliases: { type: 'array', items: { type: 'string', pattern: NAME }, uniqueItems: true },
          model: { type: 'string', minLength: 1 },
          description: { type: 'string' },
          max_model_len: { type: 'integer', minimum: 1 },
          gpu_memory_utilization: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
          quantization: { type: 'string', minLength: 1 },
          dtype: { enum: ['auto', 'half', 'float16', 'bfloat16', 'float', 'float32'] },
          max_num_seqs: { type: 'integer', minimum: 1 },
          extra_args: { type: 'array', items: { type: 'string' } },
          env: { type: 'object', additionalProperties: { type: 'string' } },
          load_timeout_s: { type: 'integer', minimum: 1 },
          vram_gb: { type: 'number', exclusiveMinimum: 0 },
        },
      },
    },
  },
} as const

const ajv = new Ajv({ allErrors: true, strict: true })
const validateModels = ajv.compile<ModelsFile>(modelsSchema)

export class ModelsFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file} is not a valid models registry:\n  ${problems.join('\n  ')}`)
    this.name = 'ModelsFileError'
  }
}

export class ModelRegistry {
  readonly models: readonly ModelEntry[]
  readonly defaultModel: string | null
  private readonly byName = new Map<string, ModelEntry>()

  constructor(file: ModelsFile) {
    this.models = file.models.map((m) => ({ ...m, aliases: m.aliases ?? [] }))
    for (const m of this.models) {
      for (const name of [m.id, ...m.aliases]) this.byName.set(name, m)
    }
    this.defaultModel = file.default ?? this.models[0]?.id ?? null
  }

  /** The entry a client's `model` names, by id or alias. */
  resolve(name: string): ModelEntry | undefined {
    return this.byName.get(name)
  }

  names(): string[] {
    return [...this.byName.keys()]
  }
}

/** Parses and validates registry text. Every problem names its line and field. */
export function parseModels(text: string, file = 'models.yaml'): ModelRegistry {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const lineOf = (offset: number | undefined): string =>
    offset === undefined ? '' : `line ${lineCounter.linePos(offset).line}: `
  if (doc.errors.length > 0) {
    throw new ModelsFileError(
      file,
      doc.errors.map((e) => `${lineOf(e.pos[0])}${e.message.split('\n')[0]}`),
    )
  }
  const data: unknown = doc.toJS()
  if (!validateModels(data)) {
    const problems = (validateModels.errors ?? []).map((e) => describe(e, doc, lineOf))
    throw new ModelsFileError(file, [...new Set(problems)])
  }
  const problems: string[] = []
  const seen = new Map<string, string>()
  data.models.forEach((m, i) => {
    for (const [name, where] of [
      [m.id, `models[${i}].id`],
      ...(m.aliases ?? []).map((a, j) => [a, `models[${i}].aliases[${j}]`]),
    ] as [string, string][]) {
      const first = seen.get(name)
      const pathParts = where.replace(/\]/g, '').split(/[.[]/)
      const node = doc.getIn(pathParts.map((p) => (/^\d+$/.test(p) ? Number(p) : p)), true)
      const at = lineOf(isNode(node) ? node.range?.[0] : undefined)
      if (first) problems.push(`${at}${where}: the name "${name}" is already used by ${first}`)
      else seen.set(name, where)
    }
  })
  if (data.default !== undefined && !seen.has(data.default)) {
    const node = doc.get('default', true)
    problems.push(
      `${lineOf(isNode(node) ? node.range?.[0] : undefined)}default: "${data.default}" is not the id or alias of any model`,
    )
  }
  if (problems.length > 0) throw new ModelsFileError(file, problems)
  return new ModelRegistry(data)
}

function describe(
  e: ErrorObject,
  doc: ReturnType<typeof parseDocument>,
  lineOf: (offset: number | undefined) => string,
): string {
  const parts = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
  let field = parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '')
  const keys = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : p))
  let node = keys.length > 0 ? doc.getIn(keys, true) : doc.contents
  let message = e.message ?? 'is invalid'
  if (e.keyword === 'additionalProperties') {
    const extra = String((e.params as { additionalProperty: string }).additionalProperty)
    field = field ? `${field}.${extra}` : extra
    const map = node
    node = isNode(map) ? (map as unknown as { get(k: string, keep: boolean): unknown }).get(extra, true) : node
    // The key node carries the position; its value is close enough for a line number.
    message = 'is not a known field'
  } else if (e.keyword === 'required') {
    const missing = String((e.params as { missingProperty: string }).missingProperty)
    field = field ? `${field}.${missing}` : missing
    message = 'is required'
  } else if (e.keyword === 'pattern') {
    message = 'must be a name of letters, digits and . _ : / @ + - (at most 128 characters)'
  } else if (e.keyword === 'enum') {
    message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`
  }
  const offset = isNode(node) ? node.range?.[0] : undefined
  return `${lineOf(offset)}${field || '(top level)'} ${message}`
}

/** Reads and validates a registry file. */
export function loadModels(file: string): ModelRegistry {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    throw new ModelsFileError(file, [`cannot be read: ${(err as Error).message}`])
  }
  return parseModels(text, file)
}

/** The registry shipped with the app (top-level models.yaml). */
export function shippedModelsPath(): string {
  const file = path.join(appRoot(), 'models.yaml')
  if (!fs.existsSync(file)) throw new Error(`the shipped models.yaml was not found (looked for ${file})`)
  return file
}

/**
 * The registry file in use: the configured path, else `<data>/models.yaml`, copied from the shipped
 * registry on first run so the user has a file of their own to edit.
 */
export function ensureModelsFile(configured: string, dataDir: string): string {
  if (configured) return path.resolve(configured)
  const target = path.join(dataDir, 'models.yaml')
  if (!fs.existsSync(target)) fs.copyFileSync(shippedModelsPath(), target, fs.constants.COPYFILE_EXCL)
  return target
}
