/** Uploading a batch input file (`POST /v1/files`) with its progress, over XMLHttpRequest. */
import type { FileObject } from '../types'
import { ApiError, authHeaders, errorFromBody, unreachableMessage } from './transport'

/** Bounds the long transfer (a 512 MiB upload on a slow LAN). */
const UPLOAD_TIMEOUT_MS = 60 * 60_000

export interface UploadProgress {
  loaded: number
  total: number
}

/**
 * `POST /v1/files` (multipart: purpose=batch, file), with XMLHttpRequest because fetch reports no upload
 * progress. Abort with `signal`.
 */
export function uploadBatchFile(file: File, onProgress: (p: UploadProgress) => void, signal?: AbortSignal): Promise<FileObject> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    const form = new FormData()
    form.append('purpose', 'batch')
    form.append('file', file, file.name)
    xhr.open('POST', '/v1/files')
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value)
    xhr.setRequestHeader('Accept', 'application/json')
    xhr.timeout = UPLOAD_TIMEOUT_MS
    xhr.upload.onprogress = (e: ProgressEvent) => {
      onProgress({ loaded: e.loaded, total: e.lengthComputable ? e.total : file.size })
    }
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as FileObject)
        } catch {
          reject(new ApiError(xhr.status, 'POST /v1/files answered with something that is not JSON.'))
        }
        return
      }
      reject(errorFromBody(xhr.status, xhr.responseText, 'POST /v1/files'))
    }
    xhr.onerror = () => reject(new ApiError(0, unreachableMessage(), 'unreachable'))
    xhr.ontimeout = () => reject(new ApiError(0, `The upload did not finish within ${UPLOAD_TIMEOUT_MS / 60_000} min.`, 'timeout'))
    xhr.onabort = () => reject(new ApiError(0, 'Upload cancelled.', 'aborted'))
    signal?.addEventListener('abort', () => xhr.abort(), { once: true })
    xhr.send(form)
  })
}
