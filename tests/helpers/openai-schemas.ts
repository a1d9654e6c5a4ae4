import fs from 'node:fs'
import path from 'node:path'
import Ajv, { type ValidateFunction } from 'ajv'
import { ROOT } from './service'

/**
 * OpenAI's own schemas (../shared/reference/openai/schemas-current.json), compiled with ajv.
 *
 * One relaxation, documented: the OpenAPI file marks optional keys as plain types, while the real API (and
 * the reference) sends every key and null where unset. So an optional property may also be null, and so may
 * a list's first_id/last_id when the list is empty. Required keys keep their exact types.
 */
const SCHEMA_FILE = path.resolve(ROOT, '..', 'shared', 'reference', 'openai', 'schemas-current.json')

type Json = Record<string, unknown>

function relax(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(relax)
  if (node === null || typeof node !== 'object') return node
  const obj = Object.fromEntries(Object.entries(node as Json).map(([k, v]) => [k, relax(v)])) as Json
  const props = obj.properties as Record<string, unknown> | undefined
  if (props && typeof props === 'object') {
    const required = new Set((obj.required as string[] | undefined) ?? [])
    for (const [key, schema] of Object.entries(props)) {
      if (!required.has(key) || key === 'first_id' || key === 'last_id') {
        props[key] = { anyOf: [schema, { type: 'null' }] }
      }
    }
  }
  return obj
}

const raw = JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8')) as { schemas: Record<string, unknown> }
export const officialSchemas = raw.schemas as Record<string, Json>

const ajv = new Ajv({ strict: false, allErrors: true })
for (const format of ['unixtime', 'binary', 'int64']) ajv.addFormat(format, true)
ajv.addSchema({ $id: 'openai', components: { schemas: relax(raw.schemas) } })

const cache = new Map<string, ValidateFunction>()

/** Throws with ajv's findings when `body` does not match the named OpenAI schema. */
export function assertSchema(name: string, body: unknown): void {
  let validate = cache.get(name)
  if (!validate) {
    validate = ajv.getSchema(`openai#/components/schemas/${name}`)
    if (!validate) throw new Error(`no schema ${name}`)
    cache.set(name, validate)
  }
  if (!validate(body)) {
    throw new Error(`body does not match OpenAI's ${name}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 2000)}`)
  }
}
