import { describe, expect, it } from 'vitest'
import { BatchLineRules, parseLine, type BatchLineFields } from '../../main/contract/batch-line'
import { LineSplitter } from '../../main/batch/jsonl-lines'
import { JsonlValidator } from '../../main/batch/validate-jsonl'
import { JsonlScanner, PREVIEW_MAX_LINE_BYTES } from '../../renderer/src/jsonl-preview'
import type { BatchErrorEntry } from '../../main/contract/batches'

// The service (JsonlValidator, fed as BatchService feeds it) and the dashboard's preview (JsonlScanner) run the
// same rules (main/contract/batch-line.ts): on the same bad line they must give the same verdict, in the same words.

const ENDPOINT = '/v1/chat/completions'
const MODELS: Record<string, string> = { m: 'm', 'm-alias': 'm', other: 'other' }

const request = (id: unknown, body: Record<string, unknown> = {}, top: Record<string, unknown> = {}): string =>
  JSON.stringify({ custom_id: id, method: 'POST', url: ENDPOINT, body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], ...body }, ...top })
const without = (field: string, inBody = false): string => {
  const value = JSON.parse(request(`no-${field}`)) as Record<string, Record<string, unknown>>
  if (inBody) delete value.body[field]
  else delete value[field]
  return JSON.stringify(value)
}

/** The errors the service records for a file, read line by line as BatchService does. */
function serviceErrors(file: Uint8Array, maxLineBytes = PREVIEW_MAX_LINE_BYTES, endpoint = ENDPOINT): BatchErrorEntry[] {
  const validator = new JsonlValidator({ endpoint, resolveModel: (n) => MODELS[n], maxRequests: 1000, maxLineBytes, maxReportedErrors: 100 })
  const splitter = new LineSplitter(maxLineBytes, (line, bytes, _offset, length) => {
    validator.check(line, bytes, length)
  })
  splitter.push(Buffer.from(file))
  splitter.end()
  return validator.finish()
}

function preview(file: Uint8Array): ReturnType<JsonlScanner['finish']> {
  const scanner = new JsonlScanner()
  scanner.push(file)
  return scanner.finish('file.jsonl')
}

/** How the window lists a service message under the line's number: "line N: …". */
const listed = (message: string): string => message.replace(/^line (\d+)(?: is |: | )/, 'line $1: ')

const jsonError = (text: string): string => {
  try {
    JSON.parse(text)
  } catch (err) {
    return (err as Error).message
  }
  throw new Error('valid JSON')
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)
const GOOD = request('a')

/** Bad second lines after a good first one (which names the endpoint and the model), and what the service says. */
const BAD_LINES: { name: string; line: string | Uint8Array; code: string; param: string | null; message: string }[] = [
  { name: 'cut short', line: '{"custom_id": "b", ', code: 'invalid_json_line', param: null, message: `line 2 is not valid JSON: ${jsonError('{"custom_id": "b", ')}` },
  { name: 'an array', line: '[1, 2, 3]', code: 'invalid_json_line', param: null, message: 'line 2 must be a JSON object, one request per line' },
  { name: 'a string', line: '"a request"', code: 'invalid_json_line', param: null, message: 'line 2 must be a JSON object, one request per line' },
  { name: 'not UTF-8', line: new Uint8Array([0x7b, 0xc3, 0x28, 0x7d]), code: 'invalid_json_line', param: null, message: 'line 2 is not valid UTF-8 text' },
  { name: 'no custom_id', line: without('custom_id'), code: 'missing_required_parameter', param: 'custom_id', message: "line 2: missing required parameter 'custom_id'" },
  { name: 'null custom_id', line: request(null), code: 'missing_required_parameter', param: 'custom_id', message: "line 2: missing required parameter 'custom_id'" },
  { name: 'no method', line: without('method'), code: 'missing_required_parameter', param: 'method', message: "line 2: missing required parameter 'method'" },
  { name: 'no url', line: without('url'), code: 'missing_required_parameter', param: 'url', message: "line 2: missing required parameter 'url'" },
  { name: 'no body', line: without('body'), code: 'missing_required_parameter', param: 'body', message: "line 2: missing required parameter 'body'" },
  { name: 'numeric custom_id', line: request(7), code: 'invalid_type', param: 'custom_id', message: 'line 2: custom_id must be a non-empty string' },
  { name: 'empty custom_id', line: request(''), code: 'invalid_type', param: 'custom_id', message: 'line 2: custom_id must be a non-empty string' },
  {
    name: 'custom_id of 513 characters',
    line: request('é'.repeat(513)),
    code: 'invalid_value',
    param: 'custom_id',
    message: 'line 2: custom_id is 513 characters long; at most 512 are allowed',
  },
  { name: 'GET', line: request('b', {}, { method: 'GET' }), code: 'invalid_value', param: 'method', message: 'line 2: method must be "POST", got "GET"' },
  { name: 'method as an object', line: request('b', {}, { method: { verb: 'POST' } }), code: 'invalid_value', param: 'method', message: 'line 2: method must be "POST", got "{\\"verb\\":\\"POST\\"}"' },
  {
    name: 'another endpoint',
    line: request('b', { input: 'x' }, { url: '/v1/embeddings' }),
    code: 'invalid_url',
    param: 'url',
    message: 'line 2: url "/v1/embeddings" differs from the batch\'s endpoint "/v1/chat/completions"',
  },
  {
    name: 'no endpoint at all',
    line: request('b', {}, { url: '/v1/chat' }),
    code: 'invalid_url',
    param: 'url',
    message: 'line 2: url "/v1/chat" differs from the batch\'s endpoint "/v1/chat/completions"',
  },
  { name: 'body an array', line: request('b', {}, { body: [] }), code: 'invalid_type', param: 'body', message: 'line 2: body must be a JSON object' },
  { name: 'body a string', line: request('b', {}, { body: 'hi' }), code: 'invalid_type', param: 'body', message: 'line 2: body must be a JSON object' },
  {
    name: 'streaming',
    line: request('b', { stream: true }),
    code: 'streaming_unsupported',
    param: 'body.stream',
    message: 'line 2: streaming is not supported in a batch; remove "stream": true',
  },
  { name: 'no model', line: without('model', true), code: 'invalid_request', param: 'body.model', message: 'line 2: body.model is required' },
  { name: 'empty model', line: request('b', { model: '' }), code: 'invalid_request', param: 'body.model', message: 'line 2: body.model is required' },
  { name: 'numeric model', line: request('b', { model: 3 }), code: 'invalid_type', param: 'body.model', message: 'line 2: body.model must be a string' },
  {
    name: 'a second model',
    line: request('b', { model: 'other' }),
    code: 'mismatched_model',
    param: 'body.model',
    message: 'line 2: model "other" differs from "m" used from line 1; a batch runs one model',
  },
  {
    name: 'no messages',
    line: without('messages', true),
    code: 'missing_required_parameter',
    param: 'body.messages',
    message: 'line 2: body.messages is required for /v1/chat/completions',
  },
  {
    name: 'null messages',
    line: request('b', { messages: null }),
    code: 'missing_required_parameter',
    param: 'body.messages',
    message: 'line 2: body.messages is required for /v1/chat/completions',
  },
  { name: 'a duplicate custom_id', line: request('a'), code: 'duplicate_custom_id', param: 'custom_id', message: 'line 2: custom_id "a" already used on line 1' },
  {
    name: 'a duplicate given with an escape',
    line: request('b').replace('"custom_id":"b"', '"custom\\u005fid":"\\u0061"'),
    code: 'duplicate_custom_id',
    param: 'custom_id',
    message: 'line 2: custom_id "a" already used on line 1',
  },
  {
    name: 'a long url, echoed in part',
    line: request('b', {}, { url: `/v1/${'z'.repeat(500)}` }),
    code: 'invalid_url',
    param: 'url',
    message: `line 2: url "/v1/${'z'.repeat(96)}"... (504 characters) differs from the batch's endpoint "/v1/chat/completions"`,
  },
]

describe('the service and the preview on the same bad line', () => {
  it.each(BAD_LINES)('$name: one problem, the same code and words', ({ line, code, param, message }) => {
    const file = new Uint8Array(Buffer.concat([utf8(`${GOOD}\n`), typeof line === 'string' ? utf8(line) : line, utf8('\n')]))
    expect(serviceErrors(file)).toEqual([{ line: 2, code, param, message }])
    const p = preview(file)
    expect(p.problems).toEqual([{ line: 2, message: listed(message).slice('line 2: '.length) }])
  })

  it('take good lines alike, also in the forms the service reads the slow way (escapes, non-ASCII, BOM, CRLF, blank lines)', () => {
    const lines = [
      '\ufeff' + request('bom'), // a BOM, as Windows editors write one
      request('café', { model: 'm' }),
      request('esc').replace('"custom_id"', '"custom\\u005fid"'),
      '   ',
      `${request('crlf')}\r`,
      request('nested', { messages: [{ role: 'user', content: [{ type: 'text', text: '東京 — "quoted"\\n' }] }], max_tokens: 1e3, temperature: -0.5 }),
    ]
    const file = utf8(lines.join('\n'))
    expect(serviceErrors(file)).toEqual([])
    const p = preview(file)
    expect(p.problems).toEqual([])
    expect([p.lines, p.blankLines, p.endpoint, p.models]).toEqual([5, 1, ENDPOINT, ['m']])
  })

  it('name a line over the line limit in the same words', () => {
    const huge = request('huge', { messages: [{ role: 'user', content: 'y'.repeat(PREVIEW_MAX_LINE_BYTES) }] })
    const file = utf8(`${GOOD}\n${huge}\n${request('after')}\n`)
    const bytes = utf8(huge).length
    const message = `line 2 is ${bytes.toLocaleString('en-US')} bytes; a request line may have at most 16,777,216 bytes (VBS_MAX_LINE_BYTES)`
    expect(serviceErrors(file)).toEqual([{ line: 2, code: 'request_too_large', param: null, message }])
    expect(preview(file).problems).toEqual([{ line: 2, message: listed(message).slice('line 2: '.length) }])
  })

  it('say a file without requests the same way', () => {
    const file = utf8('\n  \n\n')
    expect(serviceErrors(file)).toEqual([{ line: null, code: 'empty_file', param: null, message: 'the input file holds no requests' }])
    expect(preview(file).problems).toEqual([{ line: null, message: 'the input file holds no requests' }])
  })

  it('word a bad url before the first line naming the endpoint as the service will, once the preview knows the endpoint', () => {
    const file = utf8([request('x', {}, { url: '/v1/chat' }), GOOD].join('\n'))
    const [error] = serviceErrors(file)
    expect(error).toEqual({ line: 1, code: 'invalid_url', param: 'url', message: 'line 1: url "/v1/chat" differs from the batch\'s endpoint "/v1/chat/completions"' })
    const p = preview(file)
    expect(p.endpoint).toBe(ENDPOINT)
    expect(p.problems).toEqual([{ line: 1, message: listed(error.message).slice('line 1: '.length) }])
    // No line names one: the preview says so (and the window offers no batch to create).
    expect(preview(utf8(request('x', {}, { url: '/v1/chat' }))).problems).toEqual([
      { line: 1, message: 'url "/v1/chat" is not a batch endpoint (/v1/chat/completions, /v1/completions, /v1/embeddings)' },
    ])
  })

  it('check the body field of the endpoint the lines name', () => {
    const completion = (id: string, body: Record<string, unknown>): string => JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/completions', body: { model: 'm', ...body } })
    const file = utf8([completion('a', { prompt: 'Once' }), completion('b', { messages: [] })].join('\n'))
    const message = 'line 2: body.prompt is required for /v1/completions'
    expect(serviceErrors(file, PREVIEW_MAX_LINE_BYTES, '/v1/completions')).toEqual([{ line: 2, code: 'missing_required_parameter', param: 'body.prompt', message }])
    expect(preview(file).problems).toEqual([{ line: 2, message: listed(message).slice('line 2: '.length) }])
  })

  it('know models.yaml in the service only, unless the preview is given the registry', () => {
    const file = utf8(`${request('a', { model: 'mystery' })}\n`)
    const message = 'line 1: model "mystery" is not in models.yaml'
    expect(serviceErrors(file)).toEqual([{ line: 1, code: 'model_not_found', param: 'body.model', message }])
    expect(preview(file).problems).toEqual([])
    const scanner = new JsonlScanner({ resolveModel: (n) => MODELS[n] })
    scanner.push(file)
    expect(scanner.finish().problems).toEqual([{ line: 1, message: listed(message).slice('line 1: '.length) }])
  })
})

describe('BatchLineRules', () => {
  const fields = (text: string): BatchLineFields => {
    const parsed = parseLine(1, text)
    if (!parsed.ok) throw new Error(parsed.problem.message)
    return parsed.fields
  }

  it('counts a custom_id as used only once admitted (the service admits none beyond its request limit)', () => {
    const rules = new BatchLineRules({ endpoint: ENDPOINT })
    expect(rules.check(1, fields(request('a')))).toEqual({ ok: true, customId: 'a' })
    expect(rules.check(2, fields(request('a')))).toEqual({ ok: true, customId: 'a' })
    rules.admit(2, 'a')
    const verdict = rules.check(3, fields(request('a')))
    expect(verdict.ok ? null : verdict.problem.message).toBe('line 3: custom_id "a" already used on line 2')
  })

  it('takes the model from the first line naming a known one, even when that line fails a later check', () => {
    const rules = new BatchLineRules({ endpoint: ENDPOINT, resolveModel: (n) => MODELS[n] })
    expect(rules.check(1, fields(without('messages', true))).ok).toBe(false)
    expect([rules.model, rules.modelLine]).toEqual(['m', 1])
    expect(rules.check(2, fields(request('b', { model: 'm-alias' })))).toEqual({ ok: true, customId: 'b' })
  })

  it('without resolveModel, takes names as written', () => {
    const rules = new BatchLineRules({ endpoint: ENDPOINT })
    expect(rules.check(1, fields(request('a', { model: 'anything' }))).ok).toBe(true)
    expect(rules.model).toBe('anything')
  })

  it('words each problem to follow "line N: " and as the service records it', () => {
    const rules = new BatchLineRules({ endpoint: ENDPOINT })
    const verdict = rules.check(9, fields(request('b', {}, { method: 'PUT' })))
    expect(verdict).toEqual({
      ok: false,
      problem: { line: 9, code: 'invalid_value', param: 'method', detail: 'method must be "POST", got "PUT"', message: 'line 9: method must be "POST", got "PUT"' },
    })
    const parsed = parseLine(4, '[]')
    expect(parsed.ok ? null : parsed.problem).toEqual({
      line: 4,
      code: 'invalid_json_line',
      param: null,
      detail: 'must be a JSON object, one request per line',
      message: 'line 4 must be a JSON object, one request per line',
    })
  })
})
