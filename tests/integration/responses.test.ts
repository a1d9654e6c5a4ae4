import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toFile } from 'openai'
import { jsonl, startService, type TestService } from '../helpers/service'
import { assertSchema } from '../helpers/openai-schemas'
import { VERSION } from '../../main/version'
import pkg from '../../package.json'

let t: TestService
beforeAll(async () => {
  t = await startService()
})
afterAll(async () => {
  await t.stop()
})

describe('responses', () => {
  it('carry x-request-id and JSON content types on success and on every kind of error', async () => {
    const file = await t.client.files.create({ file: await toFile(Buffer.from(jsonl(1)), 'r.jsonl'), purpose: 'batch' })
    const json: [string, RequestInit, number][] = [
      ['/v1/files', {}, 200],
      [`/v1/files/${file.id}`, {}, 200],
      ['/v1/batches', {}, 200],
      ['/v1/nothing-here', {}, 404],
      ['/v1/files', { method: 'PUT' }, 405],
      ['/v1/batches', { method: 'POST', body: 'x'.repeat(2 * 1024 * 1024), headers: { 'content-type': 'application/json' } }, 413],
    ]
    const ids = new Set<string>()
    for (const [path, init, status] of json) {
      const res = await t.api(path, init)
      expect([path, res.status]).toEqual([path, status])
      expect(res.headers.get('content-type')).toMatch(/^application\/json/)
      const id = res.headers.get('x-request-id')
      expect(id).toMatch(/^req_[0-9a-f]{32}$/)
      ids.add(id!)
      const body: unknown = await res.json()
      if (status >= 400) assertSchema('ErrorResponse', body)
    }
    expect(ids.size).toBe(json.length)
    const content = await t.api(`/v1/files/${file.id}/content`)
    expect(content.headers.get('x-request-id')).toBeTruthy()
    const unauthorized = await fetch(`${t.url}/v1/files`)
    expect(unauthorized.headers.get('x-request-id')).toBeTruthy()
    const unknown = await t.api('/v1/nothing-here')
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('unknown_url')
  })

  it('answers /health without a key with its status and the version of package.json; with the key, the whole document', async () => {
    const res = await fetch(`${t.url}/health`)
    expect(res.status).toBe(200)
    const open = (await res.json()) as Record<string, unknown>
    expect(open).toMatchObject({ version: pkg.version })
    expect(['ok', 'degraded']).toContain(open.status)
    expect(Object.keys(open).sort()).toEqual(['problems', 'status', 'version'])
    const body = (await (await t.api('/health')).json()) as Record<string, unknown>
    expect(Object.keys(body).sort()).toEqual(['disk', 'engine', 'gpu', 'limits', 'problems', 'queue', 'runner', 'status', 'uptime_s', 'version'])
    expect(body.limits).toMatchObject({ max_active_batches: 10, max_queued_requests: 1_000_000, max_requests_per_batch: 200_000, thermal_pause_c: 83, thermal_resume_c: 75 })
    expect(VERSION).toBe(pkg.version)
  })
})
