import { describe, expect, it } from 'vitest'
import { clipMessage, JsonlValidator, MAX_ERRORS_BYTES, type ValidationRules } from '../../main/batch/validate-jsonl'

const rules: ValidationRules = {
  endpoint: '/v1/chat/completions',
  resolveModel: (name) => ({ m: 'm', 'm-alias': 'm', other: 'other' })[name],
  maxRequests: 3,
  maxLineBytes: 1000,
  maxReportedErrors: 2,
}

const line = (o: Record<string, unknown>): Buffer => Buffer.from(JSON.stringify(o))
const req = (id: string, body: Record<string, unknown> = {}): Buffer =>
  line({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model: 'm', messages: [], ...body } })

describe('JsonlValidator', () => {
  it('accepts good lines and keeps their custom_id', () => {
    const v = new JsonlValidator(rules)
    expect(v.check(1, req('a'), 0)).toEqual({ customId: 'a' })
    expect(v.check(2, req('b', { model: 'm-alias' }), 0)).toEqual({ customId: 'b' })
    expect(v.finish()).toEqual([])
    expect(v.requests).toBe(2)
    expect(v.model).toBe('m')
  })

  it('checks the body a request needs for its endpoint and wrong types', () => {
    const v = new JsonlValidator({ ...rules, maxReportedErrors: 100 })
    v.check(1, line({ custom_id: 'a', method: 'POST', url: '/v1/chat/completions', body: { model: 'm' } }), 0)
    v.check(2, line({ custom_id: 7, method: 'POST', url: '/v1/chat/completions', body: {} }), 0)
    v.check(3, line({ custom_id: 'c', method: 'GET', url: '/v1/chat/completions', body: {} }), 0)
    v.check(4, line({ custom_id: 'd', method: 'POST', url: '/v1/chat/completions', body: [] }), 0)
    v.check(5, line({ custom_id: 'e', method: 'POST', url: '/v1/chat/completions', body: { messages: [] } }), 0)
    v.check(6, line({ custom_id: 'f', method: 'POST', url: '/v1/chat/completions', body: { model: 3, messages: [] } }), 0)
    v.check(7, null, 5000)
    expect(v.finish().map((e) => [e.line, e.code, e.param])).toEqual([
      [1, 'missing_required_parameter', 'body.messages'],
      [2, 'invalid_type', 'custom_id'],
      [3, 'invalid_value', 'method'],
      [4, 'invalid_type', 'body'],
      [5, 'invalid_request', 'body.model'],
      [6, 'invalid_type', 'body.model'],
      [7, 'request_too_large', null],
    ])
  })

  it('lists at most maxReportedErrors errors and counts the rest', () => {
    const v = new JsonlValidator(rules)
    for (let i = 1; i <= 5; i++) v.check(i, Buffer.from('nope'), 4)
    const errors = v.finish()
    expect(errors.map((e) => e.code)).toEqual(['invalid_json_line', 'invalid_json_line', 'too_many_errors'])
    expect(errors[2].message).toContain('3 more lines')
  })

  it('reports the request limit once, at the first line beyond it', () => {
    const v = new JsonlValidator({ ...rules, maxReportedErrors: 100 })
    for (let i = 1; i <= 6; i++) v.check(i, req(`r${i}`), 0)
    expect(v.finish().map((e) => [e.line, e.code])).toEqual([[4, 'too_many_requests']])
  })

  it('refuses a custom_id over 512 characters, naming the line and its length; 512 characters (even emoji) pass', () => {
    const v = new JsonlValidator({ ...rules, maxReportedErrors: 100 })
    expect(v.check(1, req('a'.repeat(512)), 0)).toEqual({ customId: 'a'.repeat(512) })
    expect(v.check(2, req('😀'.repeat(512)), 0)).toEqual({ customId: '😀'.repeat(512) })
    expect(v.check(3, req('b'.repeat(513)), 0)).toEqual({ customId: null })
    expect(v.check(4, req('c'.repeat(100_000)), 0)).toEqual({ customId: null })
    expect(v.finish()).toEqual([
      { line: 3, code: 'invalid_value', param: 'custom_id', message: 'line 3: custom_id is 513 characters long; at most 512 are allowed' },
      { line: 4, code: 'invalid_value', param: 'custom_id', message: 'line 4: custom_id is 100,000 characters long; at most 512 are allowed' },
    ])
  })

  it('repeats at most about 100 characters of any client value in a message', () => {
    const long = 'x'.repeat(50_000)
    const v = new JsonlValidator({ ...rules, maxReportedErrors: 100 })
    v.check(1, req('dup-' + 'd'.repeat(400)), 0)
    v.check(2, req('dup-' + 'd'.repeat(400)), 0)
    v.check(3, line({ custom_id: 'm', method: { verb: long }, url: '/v1/chat/completions', body: {} }), 0)
    v.check(4, line({ custom_id: 'u', method: 'POST', url: long, body: {} }), 0)
    v.check(5, req('n', { model: long }), 0)
    v.check(6, req('o', { model: 'other' + long }), 0)
    v.check(7, req('p', { model: 'other' }), 0)
    const errors = v.finish()
    expect(errors.map((e) => [e.line, e.code])).toEqual([
      [2, 'duplicate_custom_id'],
      [3, 'invalid_value'],
      [4, 'invalid_url'],
      [5, 'model_not_found'],
      [6, 'model_not_found'],
      [7, 'mismatched_model'],
    ])
    for (const e of errors) expect(e.message.length).toBeLessThan(250)
    expect(errors[0].message).toBe(`line 2: custom_id "dup-${'d'.repeat(96)}"... (404 characters) already used on line 1`)
    expect(errors[2].message).toBe(`line 4: url "${'x'.repeat(100)}"... (50,000 characters) differs from the batch's endpoint "/v1/chat/completions"`)
    expect(errors[5].message).toBe('line 7: model "other" differs from "m" used from line 1; a batch runs one model')
  })

  it('keeps the listed errors under 256 KiB and counts the ones left out, in the same shape', () => {
    const v = new JsonlValidator({ ...rules, maxReportedErrors: 100_000 })
    const n = 5000
    // Each message repeats 100 characters of its url: about 300 bytes an entry, 1.5 MB unbounded.
    for (let i = 1; i <= n; i++) v.check(i, line({ custom_id: `r${i}`, method: 'POST', url: `/v1/${'u'.repeat(200)}`, body: {} }), 0)
    const errors = v.finish()
    expect(Buffer.byteLength(JSON.stringify(errors))).toBeLessThanOrEqual(MAX_ERRORS_BYTES)
    const listed = errors.slice(0, -1)
    expect(listed.length).toBeGreaterThan(500)
    expect(listed.map((e) => e.line)).toEqual(listed.map((_, i) => i + 1))
    expect(errors.at(-1)).toEqual({
      code: 'too_many_errors',
      message: `${(n - listed.length).toLocaleString('en-US')} more lines have errors that are not listed; fix the ones above and try again`,
      param: null,
      line: null,
    })
  })

  it('cuts an error message to 500 characters', () => {
    expect(clipMessage('short')).toBe('short')
    const cut = clipMessage('y'.repeat(10_000))
    expect(cut).toHaveLength(500)
    expect(cut.endsWith('...')).toBe(true)
    // Never half an emoji.
    expect(clipMessage('😀'.repeat(1000)).slice(0, -3)).toBe('😀'.repeat(248))
  })
})
