import type { ParsedUrlQuery } from 'node:querystring'
import { badRequest } from '../../api-error'

export interface ListParams {
  limit: number
  after?: string
  order: 'asc' | 'desc'
}

/** A query parameter given at most once; undefined when absent or empty. */
export function singleParam(query: ParsedUrlQuery, name: string): string | undefined {
  const v = query[name]
  if (Array.isArray(v)) throw badRequest(`Give '${name}' once.`, 'invalid_value', name)
  return v === undefined || v === '' ? undefined : v
}

/** A whole-number query parameter from 0 up, or `fallback` when absent. */
export function offsetParam(query: ParsedUrlQuery, name: string, fallback = 0): number {
  const raw = singleParam(query, name)
  if (raw === undefined) return fallback
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN
  if (!Number.isSafeInteger(n)) throw badRequest(`Invalid '${name}': ${JSON.stringify(raw)}. Expected a whole number from 0.`, 'invalid_value', name)
  return n
}

/** `limit`, `after` and `order` of a list endpoint, each checked and named when wrong. */
export function listParams(
  query: ParsedUrlQuery,
  options: { defaultLimit: number; maxLimit: number; orders: boolean },
): ListParams {
  const single = (name: string): string | undefined => singleParam(query, name)
  const rawLimit = single('limit')
  let limit = options.defaultLimit
  if (rawLimit !== undefined) {
    limit = /^\d+$/.test(rawLimit) ? Number(rawLimit) : NaN
    if (!Number.isInteger(limit) || limit < 1 || limit > options.maxLimit) {
      throw badRequest(
        `Invalid 'limit': ${JSON.stringify(rawLimit)}. Expected a whole number from 1 to ${options.maxLimit}.`,
        'invalid_value',
        'limit',
      )
    }
  }
  const rawOrder = options.orders ? single('order') : undefined
  if (rawOrder !== undefined && rawOrder !== 'asc' && rawOrder !== 'desc') {
    throw badRequest(`Invalid 'order': ${JSON.stringify(rawOrder)}. Expected 'asc' or 'desc'.`, 'invalid_value', 'order')
  }
  return { limit, after: single('after'), order: rawOrder ?? 'desc' }
}
