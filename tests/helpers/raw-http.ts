import http from 'node:http'
import net from 'node:net'

export interface RawResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/** Sends a request body in the given pieces with chunked transfer encoding (no Content-Length). */
export function sendChunked(
  url: string,
  pathname: string,
  headers: Record<string, string>,
  pieces: (string | Buffer)[],
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${pathname}`, { method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('error', reject)
    for (const p of pieces) req.write(p)
    req.end()
  })
}

/**
 * Starts an upload that declares `declaredLength` bytes, sends only `sent`, then drops the connection:
 * a client that crashed or lost the network mid-upload. Resolves once the socket is closed.
 */
export function sendTruncated(url: string, pathname: string, headers: Record<string, string>, sent: Buffer, declaredLength: number): Promise<void> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      const head =
        `POST ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n` +
        Object.entries({ ...headers, 'content-length': String(declaredLength) })
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('') +
        '\r\n'
      socket.write(head)
      socket.write(sent, () => socket.destroy())
    })
    socket.on('close', () => resolve())
    socket.on('error', reject)
  })
}

/** A multipart/form-data body built by hand, parts in the order given. */
export function multipart(parts: { name: string; value: string | Buffer; filename?: string }[], boundary = 'vbs-boundary-1234'): {
  body: Buffer
  contentType: string
} {
  const chunks: Buffer[] = []
  for (const p of parts) {
    const disposition = p.filename
      ? `form-data; name="${p.name}"; filename="${p.filename}"\r\nContent-Type: application/octet-stream`
      : `form-data; name="${p.name}"`
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n\r\n`))
    chunks.push(Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value))
    chunks.push(Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` }
}
