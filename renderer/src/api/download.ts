/** Downloads with the key, handed to the browser as a file: a file's content (`GET /v1/files/{id}/content`), an export. */
import { send, transportError } from './transport'

/** Bounds the long transfer (an output file of 200,000 results on a slow LAN). */
const DOWNLOAD_TIMEOUT_MS = 30 * 60_000

/** Fetches a file's content with the key and hands it to the browser as a download named `filename`. */
export function downloadFile(fileId: string, filename: string): Promise<void> {
  return downloadPath(`/v1/files/${encodeURIComponent(fileId)}/content`, filename)
}

/** Fetches `path` with the key (links cannot send it) and hands the body to the browser as a download named `filename`. */
export async function downloadPath(path: string, filename: string): Promise<void> {
  const res = await send('GET', path, undefined, DOWNLOAD_TIMEOUT_MS)
  let blob: Blob
  try {
    blob = await res.blob()
  } catch (err) {
    throw transportError(err, DOWNLOAD_TIMEOUT_MS)
  }
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  a.rel = 'noopener'
  a.style.display = 'none'
  document.body.append(a)
  a.click()
  a.remove()
  // The download has its own copy by the time it starts; give it a moment before letting go of the blob.
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}
