import { describe, expect, it } from 'vitest'
import { JsonlValidator, type ValidationRules } from '../../main/batch/validate-jsonl'

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
})
