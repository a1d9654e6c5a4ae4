/**
 * The dashboard's I/O, one job a file. Import the file you need; this index serves the stores that use several as
 * one `import * as api from '../api'` namespace. It names the public surface only: transport's building blocks
 * (send, call, authHeaders, errorFromBody) stay inside this folder.
 */
export { ApiError, onUnauthorized, setApiKey } from './transport'
export { desktopKey, nativeActions, type NativeActions } from './bridge'
export { dashboardLink, forgetStoredKey, readStoredKey, storeKey, takeKeyFromFragment } from './key-store'
export * from './endpoints'
export { downloadFile } from './download'
export * from './results'
export * from './comparisons'
export { onHashChange, pushHash, readHash, replaceHash } from './hash-location'
export { uploadBatchFile, type UploadProgress } from './upload'
export { openEventStream, type EventStreamHandlers, type StreamState } from './event-stream'
export { copyText } from './clipboard'
export * from './webhooks'
