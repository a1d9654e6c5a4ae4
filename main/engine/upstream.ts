import http from 'node:http'
import https from 'node:https'

/** Keep-alive connections to engines, shared by the real-time proxy and the batch runner. */
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 1024, keepAliveMsecs: 10_000 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 10_000 }),
}

/** An HTTP(S) request to an engine: our children on loopback, or a remote server over TLS. */
export function upstreamRequest(url: string, options: http.RequestOptions, onResponse: (res: http.IncomingMessage) => void): http.ClientRequest {
  const u = new URL(url)
  const secure = u.protocol === 'https:'
  return (secure ? https : http).request(u, { agent: agents[secure ? 'https:' : 'http:'], ...options }, onResponse)
}

/** An OpenAI path (`/v1/chat/completions`) under a base URL as the SDKs take it (`https://host/v1`). */
export function openAiUrl(baseUrl: string, path: string): string {
  return baseUrl.replace(/\/+$/, '') + path.replace(/^\/v1(?=\/)/, '')
}
