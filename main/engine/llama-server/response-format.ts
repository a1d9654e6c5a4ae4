import type { GbnfJsonSchema, LlamaGrammar } from 'node-llama-cpp'
import { badRequest } from '../../api-error'
import { describeType } from '../../api-params'
import type { Runtime } from './runtime'

/**
 * `response_format` as a node-llama-cpp grammar: `json_object` is its JSON grammar, `json_schema` a grammar
 * made from the schema. node-llama-cpp understands a subset of JSON Schema and silently ignores the rest
 * (a `pattern` or `minimum` would not be enforced), so the schema is checked first and anything it could not
 * enforce is refused with a 400 naming the keyword, rather than answered with output that breaks the schema.
 */
const PARAM = 'response_format'
const SCHEMA_PARAM = 'response_format.json_schema.schema'

/** Keywords that only describe, or that node-llama-cpp enforces (or that hold for every generated value). */
const ACCEPTED = new Set([
  'type', 'properties', 'required', 'additionalProperties', 'items', 'prefixItems', 'minItems', 'maxItems',
  'minProperties', 'maxProperties', 'enum', 'const', 'oneOf', 'anyOf', '$ref', '$defs', 'minLength', 'maxLength',
  'format', 'description', 'title', 'default', 'examples', '$schema', '$id', '$comment',
])
const BASIC_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null'])
const FORMATS = new Set(['date-time', 'time', 'date'])

type Schema = Record<string, unknown>

function unsupported(where: string, what: string): never {
  throw badRequest(
    `Invalid '${SCHEMA_PARAM}': ${what} at '${where || '/'}' is not supported by the llama.cpp engine's JSON grammar.`,
    'unsupported_schema',
    SCHEMA_PARAM,
  )
}

function isObject(v: unknown): v is Schema {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Checks `schema` and rewrites it into what node-llama-cpp's grammar builder reads as JSON Schema does. */
export function toGbnfSchema(schema: unknown, where = ''): Schema {
  if (!isObject(schema)) unsupported(where, `a schema that is ${describeType(schema)}`)
  for (const key of Object.keys(schema)) if (!ACCEPTED.has(key)) unsupported(where, `the keyword '${key}'`)
  const out: Schema = {}
  for (const key of ['description', 'title']) if (schema[key] !== undefined) out[key] = schema[key]

  if (schema.$defs !== undefined) {
    if (!isObject(schema.$defs)) unsupported(`${where}/$defs`, 'a non-object $defs')
    out.$defs = Object.fromEntries(Object.entries(schema.$defs).map(([k, v]) => [k, toGbnfSchema(v, `${where}/$defs/${k}`)]))
  }
  if (schema.$ref !== undefined) {
    if (typeof schema.$ref !== 'string' || !schema.$ref.startsWith('#/$defs/')) unsupported(where, `the reference ${JSON.stringify(schema.$ref)} (only '#/$defs/...')`)
    return { ...out, $ref: schema.$ref }
  }
  if (schema.const !== undefined) return { ...out, const: schema.const }
  if (schema.enum !== undefined) {
    if (!Array.isArray(schema.enum) || schema.enum.length === 0) unsupported(where, 'an empty or non-array enum')
    if (schema.enum.some((v) => typeof v === 'object' && v !== null)) unsupported(where, 'an enum of objects or arrays')
    return { ...out, enum: schema.enum }
  }
  const alternatives = schema.oneOf ?? schema.anyOf
  if (alternatives !== undefined) {
    if (schema.type !== undefined) unsupported(where, "'type' next to 'oneOf'/'anyOf'")
    if (!Array.isArray(alternatives) || alternatives.length === 0) unsupported(where, 'an empty oneOf/anyOf')
    // Generating a value that matches one alternative satisfies anyOf too.
    return { ...out, oneOf: alternatives.map((s, i) => toGbnfSchema(s, `${where}/oneOf/${i}`)) }
  }

  const type = schema.type
  if (type === undefined) unsupported(where, 'a schema without a type')
  if (Array.isArray(type)) {
    if (type.length === 0 || !type.every((t) => typeof t === 'string')) unsupported(where, 'an empty or non-string type list')
    if (type.every((t) => BASIC_TYPES.has(t)) && schema.format === undefined && schema.minLength === undefined && schema.maxLength === undefined) {
      return { ...out, type }
    }
    // ["object", "null"] and the like: one alternative per type.
    return { ...out, oneOf: type.map((t) => toGbnfSchema({ ...schema, type: t, description: undefined, title: undefined }, where)) }
  }
  if (type === 'object') {
    const props = schema.properties ?? {}
    if (!isObject(props)) unsupported(`${where}/properties`, 'a non-object properties')
    const obj: Schema = {
      ...out,
      type: 'object',
      properties: Object.fromEntries(Object.entries(props).map(([k, v]) => [k, toGbnfSchema(v, `${where}/properties/${k}`)])),
    }
    const extra = schema.additionalProperties
    // JSON Schema allows any further keys unless told otherwise; with named properties the grammar simply
    // generates those (valid either way), without any it must allow free keys or only `{}` would come out.
    if (extra === true || (extra === undefined && Object.keys(props).length === 0)) obj.additionalProperties = true
    else if (isObject(extra)) obj.additionalProperties = Object.keys(extra).length === 0 ? true : toGbnfSchema(extra, `${where}/additionalProperties`)
    else if (extra !== undefined && extra !== false) unsupported(where, 'a non-boolean, non-schema additionalProperties')
    for (const k of ['minProperties', 'maxProperties'] as const) if (schema[k] !== undefined) obj[k] = schema[k]
    return obj
  }
  if (type === 'array') {
    const arr: Schema = { ...out, type: 'array' }
    // An empty items schema means any value, which is what the grammar makes of no items at all.
    if (isObject(schema.items) && Object.keys(schema.items).length > 0) arr.items = toGbnfSchema(schema.items, `${where}/items`)
    else if (schema.items !== undefined && !isObject(schema.items)) unsupported(`${where}/items`, 'a non-schema items')
    if (schema.prefixItems !== undefined) {
      if (!Array.isArray(schema.prefixItems)) unsupported(`${where}/prefixItems`, 'a non-array prefixItems')
      arr.prefixItems = schema.prefixItems.map((s, i) => toGbnfSchema(s, `${where}/prefixItems/${i}`))
    }
    for (const k of ['minItems', 'maxItems'] as const) if (schema[k] !== undefined) arr[k] = schema[k]
    return arr
  }
  if (typeof type !== 'string' || !BASIC_TYPES.has(type)) unsupported(where, `the type ${JSON.stringify(type)}`)
  if (type === 'string') {
    if (schema.format !== undefined) {
      if (typeof schema.format !== 'string' || !FORMATS.has(schema.format)) unsupported(where, `the string format ${JSON.stringify(schema.format)}`)
      return { ...out, type, format: schema.format }
    }
    const str: Schema = { ...out, type }
    for (const k of ['minLength', 'maxLength'] as const) if (schema[k] !== undefined) str[k] = schema[k]
    return str
  }
  if (schema.format !== undefined || schema.minLength !== undefined || schema.maxLength !== undefined) unsupported(where, `a string keyword on type '${type}'`)
  return { ...out, type }
}

let jsonGrammar: Promise<LlamaGrammar> | undefined

function anyJson(runtime: Runtime): Promise<LlamaGrammar> {
  jsonGrammar ??= runtime.llama.getGrammarFor('json')
  jsonGrammar.catch(() => (jsonGrammar = undefined))
  return jsonGrammar
}

/** The grammar for `response_format`, or undefined for text (or no response_format). */
export async function grammarFor(runtime: Runtime, responseFormat: unknown): Promise<LlamaGrammar | undefined> {
  if (responseFormat === undefined || responseFormat === null) return undefined
  if (!isObject(responseFormat)) {
    throw badRequest(`Invalid type for '${PARAM}': expected an object, but got ${describeType(responseFormat)}.`, 'invalid_type', PARAM)
  }
  const type = responseFormat.type
  if (type === 'text') return undefined
  if (type === 'json_object') {
    return await anyJson(runtime)
  }
  if (type === 'json_schema') {
    const js = responseFormat.json_schema
    if (!isObject(js)) throw badRequest(`Missing required parameter: '${PARAM}.json_schema'.`, 'missing_required_parameter', `${PARAM}.json_schema`)
    if (js.schema === undefined || (isObject(js.schema) && Object.keys(js.schema).length === 0)) {
      return await anyJson(runtime)
    }
    const schema = toGbnfSchema(js.schema)
    try {
      // The typed signature infers the schema's literal type; this schema is only known at run time.
      const create = runtime.llama.createGrammarForJsonSchema.bind(runtime.llama) as (s: GbnfJsonSchema) => Promise<LlamaGrammar>
      return await create(schema as GbnfJsonSchema)
    } catch (err) {
      throw badRequest(`Invalid '${SCHEMA_PARAM}': ${(err as Error).message}`, 'unsupported_schema', SCHEMA_PARAM)
    }
  }
  throw badRequest(
    `Invalid '${PARAM}.type': ${JSON.stringify(type)} is not one of 'text', 'json_object', 'json_schema'.`,
    'invalid_value',
    `${PARAM}.type`,
  )
}
