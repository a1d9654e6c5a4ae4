/**
 * The dashboard's views and their addresses in the URL hash, so any view can be linked and reloaded:
 * `#/` (or no hash) the overview, `#/jobs/<batch id>`, `#/compare`, `#/compare/<comparison id>`, `#/settings`.
 * The Job view and a comparison keep where they stand as query parameters after `?`, so a reload or a link opens
 * them as they were: `#/jobs/<id>?q=flip&state=failed&finish=length&page=3&open=<custom_id>` and
 * `#/compare/<id>?q=&diff=1&page=2&row=<custom_id>`. Values are percent-encoded; a parameter that is not
 * understood (a bad page, an unknown state, the dashboard link's `key`) is left out, never an error.
 * Pure: a hash in, a route out, and back. Reading and writing the address is ./api/hash-location.
 */
import { RESULT_STATES, type ResultState } from '../../main/contract/results'

/** Where the Job view stands: the results' search and filters, the page (from 1), the request in the side panel. */
export interface JobViewParams {
  q: string
  state: ResultState | null
  finishReason: string | null
  page: number
  /** The custom_id open in the side panel. */
  open: string | null
}

/** Where a comparison stands: the rows' search, "differences only", the page (from 1), the current row. */
export interface CompareViewParams {
  q: string
  differences: boolean
  page: number
  /** The custom_id of the current row (keyboard voting). */
  row: string | null
}

export type Route =
  | { view: 'overview' }
  /** `params` only when the view stands anywhere but at its start. */
  | { view: 'job'; batchId: string; params?: JobViewParams }
  | { view: 'compare'; comparisonId: string | null; params?: CompareViewParams }
  | { view: 'settings' }

export type ViewName = Route['view']

export const JOB_VIEW_START: JobViewParams = { q: '', state: null, finishReason: null, page: 1, open: null }
export const COMPARE_VIEW_START: CompareViewParams = { q: '', differences: false, page: 1, row: null }

/** A page number in an address: a whole number from 1, at most this (a typo, not a page). */
const MAX_PAGE = 1_000_000_000
/** What an engine names a finish reason: a word, not free text. */
const FINISH_REASON = /^[\w.-]{1,64}$/
/** An id or a custom_id, as long as the service accepts. */
const MAX_ID = 1_000

const decode = (s: string): string | null => {
  try {
    return decodeURIComponent(s)
  } catch {
    return null
  }
}

const enc = encodeURIComponent

/** The parameters after the route, first one winning; `&` before any `?` (the old `#/jobs/x&key=`) counts too. */
function queryOf(rest: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const part of rest.split(/[&?]/)) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const name = decode(eq === -1 ? part : part.slice(0, eq))
    const value = decode(eq === -1 ? '' : part.slice(eq + 1))
    if (name !== null && value !== null && !out.has(name)) out.set(name, value)
  }
  return out
}

const pageOf = (raw: string | undefined): number => {
  const n = raw !== undefined && /^\d{1,10}$/.test(raw) ? Number(raw) : NaN
  return Number.isSafeInteger(n) && n >= 1 && n <= MAX_PAGE ? n : 1
}

const idOf = (raw: string | undefined): string | null => (raw !== undefined && raw !== '' && raw.length <= MAX_ID ? raw : null)

function jobParamsOf(query: Map<string, string>): JobViewParams {
  const state = query.get('state')
  const finish = query.get('finish')
  return {
    q: query.get('q') ?? '',
    state: state !== undefined && (RESULT_STATES as readonly string[]).includes(state) ? (state as ResultState) : null,
    finishReason: finish !== undefined && FINISH_REASON.test(finish) ? finish : null,
    page: pageOf(query.get('page')),
    open: idOf(query.get('open')),
  }
}

function compareParamsOf(query: Map<string, string>): CompareViewParams {
  const diff = query.get('diff')
  return { q: query.get('q') ?? '', differences: diff === '1' || diff === 'true', page: pageOf(query.get('page')), row: idOf(query.get('row')) }
}

const sameParams = <T extends object>(a: T, b: T): boolean => (Object.keys(a) as (keyof T)[]).every((k) => a[k] === b[k])

/** The params, or undefined when they are the view's start (so a plain `#/jobs/<id>` and its route compare equal). */
const unlessStart = <T extends object>(params: T, start: T): T | undefined => (sameParams(params, start) ? undefined : params)

/**
 * The route a hash names. A hash that names no view is the overview; parameters that do not belong to the view
 * (the dashboard link's `key`) or do not make sense are ignored.
 */
export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, '')
  const cut = raw.search(/[&?]/)
  const path = (cut === -1 ? raw : raw.slice(0, cut)).replace(/^\/+/, '').replace(/\/+$/, '')
  const query = queryOf(cut === -1 ? '' : raw.slice(cut))
  const [head, ...rest] = path.split('/')
  const tail = rest.length > 0 ? decode(rest.join('/')) : null
  switch (head) {
    case 'jobs': {
      if (!tail) return { view: 'overview' }
      const params = unlessStart(jobParamsOf(query), JOB_VIEW_START)
      return params ? { view: 'job', batchId: tail, params } : { view: 'job', batchId: tail }
    }
    case 'compare': {
      if (!tail) return { view: 'compare', comparisonId: null }
      const params = unlessStart(compareParamsOf(query), COMPARE_VIEW_START)
      return params ? { view: 'compare', comparisonId: tail, params } : { view: 'compare', comparisonId: tail }
    }
    case 'settings':
      return { view: 'settings' }
    default:
      return { view: 'overview' }
  }
}

/** `?a=1&b=2` of the pairs that are set, percent-encoded; '' when none is. */
function search(pairs: [string, string | null][]): string {
  const set = pairs.filter((p): p is [string, string] => p[1] !== null)
  return set.length === 0 ? '' : `?${set.map(([k, v]) => `${k}=${enc(v)}`).join('&')}`
}

function jobSearch(p: JobViewParams): string {
  return search([
    ['q', p.q !== '' ? p.q : null],
    ['state', p.state],
    ['finish', p.finishReason],
    ['page', p.page > 1 ? String(p.page) : null],
    ['open', p.open],
  ])
}

function compareSearch(p: CompareViewParams): string {
  return search([
    ['q', p.q !== '' ? p.q : null],
    ['diff', p.differences ? '1' : null],
    ['page', p.page > 1 ? String(p.page) : null],
    ['row', p.row],
  ])
}

/** The hash of a route, `#/...`; a view's params that differ from its start follow `?`. */
export function formatHash(route: Route): string {
  switch (route.view) {
    case 'overview':
      return '#/'
    case 'job':
      return `#/jobs/${enc(route.batchId)}${route.params ? jobSearch(route.params) : ''}`
    case 'compare':
      if (!route.comparisonId) return '#/compare'
      return `#/compare/${enc(route.comparisonId)}${route.params ? compareSearch(route.params) : ''}`
    case 'settings':
      return '#/settings'
  }
}

export const sameRoute = (a: Route, b: Route): boolean => formatHash(a) === formatHash(b)

/** The route of the Job view standing at `params` (no params at its start). */
export const jobRoute = (batchId: string, params: JobViewParams): Route => {
  const p = unlessStart(params, JOB_VIEW_START)
  return p ? { view: 'job', batchId, params: p } : { view: 'job', batchId }
}

/** The route of a comparison standing at `params` (no params at its start). */
export const compareRoute = (comparisonId: string, params: CompareViewParams): Route => {
  const p = unlessStart(params, COMPARE_VIEW_START)
  return p ? { view: 'compare', comparisonId, params: p } : { view: 'compare', comparisonId }
}
