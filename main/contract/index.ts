/**
 * The HTTP contract: every response shape of `/api/*`, `/health`, the event stream and the OpenAI routes
 * this service answers, as types the routes build and the window, the CLI and the tests read. Runtime-neutral:
 * nothing here imports Node, Electron or the rest of main/.
 */
export type * from './batches'
export type * from './comparisons'
export type * from './engine'
export type * from './errors'
export type * from './events'
export type * from './files'
export type * from './gpu'
export type * from './health'
export type * from './jobs'
export type * from './models'
export type * from './results'
export type * from './settings'
export type * from './service-file'
export type * from './webhooks'
