import http from 'node:http'
import type net from 'node:net'
import { ApiError } from '../api-error'

/**
 * An answer written straight to a socket, before (or instead of) Node's HTTP handling: the OpenAI envelope with
 * `Connection: close`, as every other error of the service. Used for connections over the caps and for
 * requests Node's parser refuses.
 */
export function rawErrorResponse(err: ApiError): string {
  const body = JSON.stringify(err.toJSON())
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
    ...err.headers,
    Connection: 'close',
  }
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')
  return `HTTP/1.1 ${err.status} ${http.STATUS_CODES[err.status] ?? 'Error'}\r\n${head}\r\n${body}`
}

export interface ClientErrorLimits {
  headersTimeoutMs: number
  requestTimeoutMs: number
  maxHeaderBytes: number
}

/**
 * What to say to a request Node's parser refused (Node itself answers a bare status line, which SDKs show as an
 * error without a message): headers or URL too long 431, too slow 408, anything else not HTTP 400.
 */
export function clientErrorFor(err: NodeJS.ErrnoException & { reason?: string }, o: ClientErrorLimits): ApiError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new ApiError(
        431,
        `The request's URL and headers are too long: at most ${Math.round(o.maxHeaderBytes / 1024)} KB of them are read. Send long values in the body.`,
        { code: 'headers_too_large' },
      )
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ApiError(
        408,
        `The request did not arrive in time: its headers must arrive within ${seconds(o.headersTimeoutMs)} (VBS_HEADERS_TIMEOUT_MS) and all of it within ${seconds(o.requestTimeoutMs)} (VBS_REQUEST_TIMEOUT_MS).`,
        { code: 'request_timeout' },
      )
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new ApiError(413, 'The chunked body has chunk extensions that are too long.', { code: 'invalid_http' })
    default: {
      const reason = (err.reason ?? err.message ?? '').replace(/^Parse Error:\s*/, '').slice(0, 200)
      return new ApiError(400, `The request is not valid HTTP/1.1${reason ? `: ${reason}` : ''} (${err.code ?? 'parse error'}).`, { code: 'invalid_http' })
    }
  }
}

/** Answers the parser's refusals in the envelope, and drops connections that reset or already have an answer. */
export function answerClientErrors(server: http.Server, o: ClientErrorLimits): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    const inProgress = (socket as net.Socket & { _httpMessage?: http.ServerResponse })._httpMessage
    if (err.code === 'ECONNRESET' || !socket.writable || inProgress?.headersSent) {
      socket.destroy()
      return
    }
    socket.on('error', () => undefined)
    socket.end(rawErrorResponse(clientErrorFor(err, o)))
    const cut = setTimeout(() => socket.destroy(), 2000)
    cut.unref()
    socket.once('close', () => clearTimeout(cut))
  })
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`
}
