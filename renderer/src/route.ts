/**
 * The dashboard's views and their addresses in the URL hash, so any view can be linked and reloaded:
 * `#/` (or no hash) the overview, `#/jobs/<batch id>`, `#/compare`, `#/compare/<comparison id>`, `#/settings`.
 * Pure: a hash in, a route out, and back. Reading and writing the address is ./api/hash-location.
 */

export type Route =
  | { view: 'overview' }
  | { view: 'job'; batchId: string }
  | { view: 'compare'; comparisonId: string | null }
  | { view: 'settings' }

export type ViewName = Route['view']

const decode = (s: string): string | null => {
  try {
    return decodeURIComponent(s)
  } catch {
    return null
  }
}

/**
 * The route a hash names. Anything after `&` or `?` is not part of the route (the dashboard link's `&key=`);
 * a hash that names no view is the overview.
 */
export function parseHash(hash: string): Route {
  const path = hash.replace(/^#/, '').split(/[&?]/)[0].replace(/^\/+/, '').replace(/\/+$/, '')
  const [head, ...rest] = path.split('/')
  const tail = rest.length > 0 ? decode(rest.join('/')) : null
  switch (head) {
    case 'jobs':
      return tail ? { view: 'job', batchId: tail } : { view: 'overview' }
    case 'compare':
      return { view: 'compare', comparisonId: tail || null }
    case 'settings':
      return { view: 'settings' }
    default:
      return { view: 'overview' }
  }
}

/** The hash of a route, `#/...`. */
export function formatHash(route: Route): string {
  switch (route.view) {
    case 'overview':
      return '#/'
    case 'job':
      return `#/jobs/${encodeURIComponent(route.batchId)}`
    case 'compare':
      return route.comparisonId ? `#/compare/${encodeURIComponent(route.comparisonId)}` : '#/compare'
    case 'settings':
      return '#/settings'
  }
}

export const sameRoute = (a: Route, b: Route): boolean => formatHash(a) === formatHash(b)
