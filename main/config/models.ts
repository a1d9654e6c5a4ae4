import fs from 'node:fs'
import path from 'node:path'
import Ajv, { type ErrorObject } from 'ajv'
import { LineCounter, parseDocument, isNode } from 'yaml'
import { ENGINE_KINDS, type EngineKind } from '../contract/engine'
import { appRoot } from './app-paths'

export { ENGINE_KINDS, type EngineKind }

/** One model of the registry: what clients call it and what the engine loads. */
export interface ModelEntry {
  /** The name clients send as `model` (and the engine's served name). */
  id: string
  aliases: string[]
  /** Which engine runs it (`vllm` when the file does not say). */
  engine: EngineKind
  /**
   * vllm: a Hugging Face id or a local path, handed to `vllm serve`. llama.cpp: a GGUF file (absolute, or
   * relative to models.yaml) or `hf:<user>/<repo>/<file>.gguf`, downloaded into `<data>/models/`. Unused by
   * remote models.
   */
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
  /** llama.cpp: the context window in tokens, shared by the parallel sequences. */
  context_size?: number
  /** llama.cpp: requests served at once (context sequences); more wait, lower `priority` first. */
  parallel?: number
  /** llama.cpp: layers offloaded to the GPU: `auto`, 0 (CPU only) or a number. */
  gpu_layers?: 'auto' | number
  /** llama.cpp: CPU threads (default: the cores the service leaves free). */
  threads?: number
  /** remote: the server's OpenAI base URL, as the SDKs take it (`https://host/v1`). */
  base_url?: string
  /** remote: the name of the environment variable that holds its API key (the key itself is never in the file). */
  api_key_env?: string
  /** remote: the model name the server knows (default: the id). */
  served_model?: string
  /** remote: requests in flight at once for a batch. */
  max_concurrency?: number
  /**
   * vllm, remote: pass requests' `prompt_embeds` (serialized tensors) to the engine; vLLM then runs with
   * `--enable-prompt-embeds`. Off by default: the field is removed from requests (request-policy.ts).
   */
  allow_prompt_embeds?: boolean
  /**
   * vllm, llama.cpp: keep the model warm when switching away: vLLM runs with `--enable-sleep-mode` and is put to
   * sleep (level 1: weights in host RAM), our llama.cpp child stays loaded; switching back wakes it instead of
   * loading it again. The warm pool holds such engines within VBS_WARM_POOL_GB of host RAM (estimated from
   * vram_gb, or a llama.cpp model's file).
   */
  sleep?: boolean
}

export interface ModelsFile {
  default?: string
  /** The default where vLLM is not installed (a model another engine runs). */
  embedded_default?: string
  models: (Omit<ModelEntry, 'engine' | 'aliases' | 'model'> & { engine?: EngineKind; aliases?: string[]; model?: string })[]
}

/** The fields each kind of engine takes, besides id, aliases, engine, description and load_timeout_s. */
const KIND_FIELDS: Record<EngineKind, readonly string[]> = {
  vllm: ['model', 'max_model_len', 'gpu_memory_utilization', 'quantization', 'dtype', 'max_num_seqs', 'extra_args', 'env', 'vram_gb', 'allow_prompt_embeds', 'sleep'],
  'llama.cpp': ['model', 'context_size', 'parallel', 'gpu_layers', 'threads', 'env', 'vram_gb', 'sleep'],
  remote: ['base_url', 'api_key_env', 'served_model', 'max_concurrency', 'allow_prompt_embeds'],
}
const COMMON_FIELDS = ['id', 'aliases', 'engine', 'description', 'load_timeout_s']

const NAME = '^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$'

export const modelsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['models'],
  properties: {
    default: { type: 'string', pattern: NAME },
    embedded_default: { type: 'string', pattern: NAME },
    models: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id'],
        // A remote model names its server; the others name what the engine loads.
        if: { properties: { engine: { const: 'remote' } }, required: ['engine'] },
        then: { required: ['base_url'] },
        else: { required: ['model'] },
        properties: {
          id: { type: 'string', pattern: NAME },
          engine: { enum: ENGINE_KINDS },
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
          context_size: { type: 'integer', minimum: 64 },
          parallel: { type: 'integer', minimum: 1, maximum: 256 },
          gpu_layers: { anyOf: [{ const: 'auto' }, { type: 'integer', minimum: 0 }] },
          threads: { type: 'integer', minimum: 1, maximum: 1024 },
          base_url: { type: 'string', pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$' },
          api_key_env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
          served_model: { type: 'string', minLength: 1 },
          max_concurrency: { type: 'integer', minimum: 1, maximum: 4096 },
          allow_prompt_embeds: { type: 'boolean' },
          sleep: { type: 'boolean' },
        },
      },
    },
  },
} as const

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false })
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
  /** The model started when none is named (`default`, else the first). */
  readonly defaultModel: string | null
  /** The default where vLLM is not installed: `embedded_default`, else the first llama.cpp model. */
  readonly embeddedDefault: string | null
  private readonly byName = new Map<string, ModelEntry>()

  /** `baseDir` resolves relative GGUF paths (the folder of models.yaml). */
  constructor(file: ModelsFile, baseDir = process.cwd()) {
    this.models = file.models.map((m) => {
      const engine = m.engine ?? 'vllm'
      let model = m.model ?? ''
      if (engine === 'llama.cpp' && !model.startsWith('hf:') && !path.isAbsolute(model)) model = path.resolve(baseDir, model)
      return { ...m, engine, model, aliases: m.aliases ?? [] }
    })
    for (const m of this.models) {
      for (const name of [m.id, ...m.aliases]) this.byName.set(name, m)
    }
    this.defaultModel = this.idOf(file.default) ?? this.models[0]?.id ?? null
    this.embeddedDefault = this.idOf(file.embedded_default) ?? this.models.find((m) => m.engine === 'llama.cpp')?.id ?? null
  }

  private idOf(name: string | undefined): string | null {
    return name === undefined ? null : (this.byName.get(name)?.id ?? null)
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
    // An if/then error only repeats the `required` error that comes with it.
    const problems = (validateModels.errors ?? []).filter((e) => e.keyword !== 'if').map((e) => describe(e, doc, lineOf))
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
  data.models.forEach((m, i) => {
    const kind = m.engine ?? 'vllm'
    const at = (field?: string): string => {
      const node = doc.getIn(field ? ['models', i, field] : ['models', i], true)
      return lineOf(isNode(node) ? node.range?.[0] : undefined)
    }
    for (const field of Object.keys(m)) {
      if (!COMMON_FIELDS.includes(field) && !KIND_FIELDS[kind].includes(field)) {
        problems.push(`${at(field)}models[${i}].${field} is not a field of engine ${kind} (it takes ${KIND_FIELDS[kind].join(', ')})`)
      }
    }
    // vLLM adds the flag itself for `sleep: true`; given by hand, switches would still stop the model.
    if (kind === 'vllm' && (m.extra_args ?? []).includes('--enable-sleep-mode') && m.sleep !== true) {
      problems.push(`${at('extra_args')}models[${i}].extra_args: use sleep: true instead of --enable-sleep-mode (the service then puts the model to sleep on a switch and sets VLLM_SERVER_DEV_MODE=1)`)
    }
    if (kind === 'llama.cpp' && m.model !== undefined && m.model.startsWith('hf:') && !/^hf:[^/\s]+\/[^/\s]+\/\S+\.gguf$/i.test(m.model)) {
      problems.push(`${at('model')}models[${i}].model must be a GGUF path or hf:<user>/<repo>/<file>.gguf`)
    }
  })
  for (const key of ['default', 'embedded_default'] as const) {
    const value = data[key]
    if (value !== undefined && !seen.has(value)) {
      const node = doc.get(key, true)
      problems.push(`${lineOf(isNode(node) ? node.range?.[0] : undefined)}${key}: "${value}" is not the id or alias of any model`)
    }
  }
  if (problems.length > 0) throw new ModelsFileError(file, problems)
  return new ModelRegistry(data, path.dirname(path.resolve(file)))
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
    message = field.endsWith('base_url')
      ? 'must be an http:// or https:// URL: the server\'s OpenAI base URL, such as https://host/v1'
      : field.endsWith('api_key_env')
        ? 'must be the name of an environment variable (letters, digits, _) that holds the key, not the key itself'
        : 'must be a name of letters, digits and . _ : / @ + - (at most 128 characters)'
  } else if (e.keyword === 'type' && field.endsWith('.sleep')) {
    message = 'must be true or false (true keeps the model warm in host RAM when switching to another model)'
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
