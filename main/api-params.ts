import { badRequest } from './api-error'

/** Checks of request parameters shared by the API's routes; each names the parameter it rejects. */

export function requireString(value: unknown, param: string): string {
  if (value === undefined || value === null) {
    throw badRequest(`Missing required parameter: '${param}'.`, 'missing_required_parameter', param)
  }
  if (typeof value !== 'string') {
    throw badRequest(`Invalid type for '${param}': expected a string, but got ${describeType(value)}.`, 'invalid_type', param)
  }
  return value
}

export function describeType(value: unknown): string {
  if (Array.isArray(value)) return 'an array'
  if (value === null) return 'null'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

/** Metadata: at most 16 pairs, keys up to 64 characters, string values up to 512. */
export function checkMetadata(value: unknown): Record<string, string> | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest(`Invalid type for 'metadata': expected an object, but got ${describeType(value)}.`, 'invalid_type', 'metadata')
  }
  const entries = Object.entries(value as Record<string, unknown>)
  if (entries.length > 16) {
    throw badRequest(`Invalid 'metadata': at most 16 keys are allowed, got ${entries.length}.`, 'invalid_value', 'metadata')
  }
  for (const [k, v] of entries) {
    if (k.length > 64) {
      throw badRequest(`Invalid 'metadata': key '${k.slice(0, 20)}...' is longer than 64 characters.`, 'invalid_value', 'metadata')
    }
    if (typeof v !== 'string') {
      throw badRequest(`Invalid type for 'metadata.${k}': expected a string, but got ${describeType(v)}.`, 'invalid_type', `metadata.${k}`)
    }
    if (v.length > 512) {
      throw badRequest(`Invalid 'metadata.${k}': values may be at most 512 characters, got ${v.length}.`, 'invalid_value', `metadata.${k}`)
    }
  }
  return Object.fromEntries(entries) as Record<string, string>
}

/** `{anchor: "created_at", seconds}` with seconds from one hour to 30 days; gives the seconds. */
export function checkExpiresAfter(value: unknown, param: string): number | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest(`Invalid type for '${param}': expected an object, but got ${describeType(value)}.`, 'invalid_type', param)
  }
  const v = value as Record<string, unknown>
  if (v.anchor !== 'created_at') {
    throw badRequest(`Invalid '${param}.anchor': the only supported value is 'created_at'.`, 'invalid_value', `${param}.anchor`)
  }
  const seconds = typeof v.seconds === 'string' && /^\d+$/.test(v.seconds) ? Number(v.seconds) : v.seconds
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 3600 || seconds > 2_592_000) {
    throw badRequest(
      `Invalid '${param}.seconds': expected a whole number from 3600 (1 hour) to 2592000 (30 days).`,
      'invalid_value',
      `${param}.seconds`,
    )
  }
  return seconds
}

/** A client's value as an error message repeats it: one rule for the service and the dashboard, in the contract. */
export { ECHO_MAX_CHARS, echo } from './contract/echo'
