import type { ParsedUrlQuery } from 'node:querystring'
import { badRequest } from '../../api-error'

export interface ListParams {
  limit: number
  after?: string
  order: 'asc' | 'desc'
}

/** `limit`, `after` and `order` of a list endpoint, each checked and named when wrong. */
export function listParams(
  query: ParsedUrlQuery,
  options: { defaultLimit: number; maxLimit: number; orders: boolean },
): ListParams {
  const single = (name: string): string | undefined => {
    const v = query[name]
    if (Array.isArray(v)) throw badRequest(`Give '${name}' once.`, 'invalid_value', name)
    return v === undefined || v === '' ? undefined : v
  }
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
