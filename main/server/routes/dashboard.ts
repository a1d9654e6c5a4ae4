import fs from 'node:fs'
import path from 'node:path'
import Router from '@koa/router'
import type { AppState } from '../middleware'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
}

/** The page holds no data: everything it shows comes from the API with the key, so the files themselves are open. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

/**
 * The dashboard (the renderer build) at `/`, so a browser on the LAN sees what the desktop window shows.
 * File names are matched against a strict pattern before any path is built from them.
 */
export function dashboardRouter(dir: string): Router<AppState> {
  const router = new Router<AppState>()
  const send = (ctx: Parameters<Parameters<typeof router.get>[1]>[0], file: string, cache: string): void => {
    const full = path.join(dir, file)
    let stat: fs.Stats
    try {
      stat = fs.statSync(full)
    } catch {
      if (file === 'index.html') {
        ctx.status = 503
        ctx.type = 'text/html; charset=utf-8'
        ctx.body = '<!doctype html><title>vLLM Batch Server</title><p>The dashboard is not built. Run <code>npm run build</code>, then reload. The API works without it.</p>'
        return
      }
      return // 404 from the error envelope
    }
    ctx.set('cache-control', cache)
    ctx.set('content-security-policy', CSP)
    ctx.set('x-content-type-options', 'nosniff')
    ctx.type = TYPES[path.extname(file)] ?? 'application/octet-stream'
    ctx.length = stat.size
    ctx.body = fs.createReadStream(full)
  }
  router.get('/', (ctx) => send(ctx, 'index.html', 'no-cache'))
  router.get('/assets/:file', (ctx) => {
    const file = ctx.params.file
    if (!/^[A-Za-z0-9._-]{1,200}$/.test(file) || file.startsWith('.')) return
    send(ctx, path.join('assets', file), 'public, max-age=31536000, immutable')
  })
  return router
}
