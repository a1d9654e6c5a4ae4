import { isUtf8 } from 'node:buffer'
import { describe, expect, it } from 'vitest'
import { scanRequest } from '../../main/batch/request-scan'
import { lendReadBuffer, skipPlainRun, type LentBuffer } from '../../main/batch/wasm/plain-run'
import { prng } from '../helpers/prng'

// The fast path may decline any line (it is then parsed the usual way), but a line it takes must be one that
// JSON.parse takes, and what it gives must be what the batch-line rules would read of JSON.parse's result.

/** What the rules read of a parsed line (see BatchLineRules.check): of the body's required fields only presence. */
function readByRules(value: unknown): unknown {
  const v = value as Record<string, unknown>
  const body = v.body as Record<string, unknown>
  const presence = (x: unknown): unknown => (x === undefined || x === null ? x : true)
  return {
    custom_id: v.custom_id,
    method: v.method,
    url: v.url,
    body: { model: body.model, stream: body.stream, messages: presence(body.messages), prompt: presence(body.prompt), input: presence(body.input) },
  }
}

/** Checks the fast path's promise on one line; says whether it took the line. */
function agrees(line: Buffer): boolean {
  const fast = scanRequest(line)
  if (fast === null) return false
  expect(isUtf8(line)).toBe(true) // callers check it first; the cases below only feed it UTF-8
  let parsed: unknown
  expect(() => (parsed = JSON.parse(line.toString('utf8'))), line.toString('utf8')).not.toThrow()
  expect(fast, line.toString('utf8')).toEqual(readByRules(parsed))
  return true
}

const request = (extra: Record<string, unknown> = {}, body: Record<string, unknown> = {}): string =>
  JSON.stringify({
    custom_id: 'req-1',
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'gemma-3-12b', messages: [{ role: 'user', content: 'naïve café 東京 — “quoted” "plain" tab\tand\nnewline' }], max_tokens: 64, ...body },
    ...extra,
  })

describe('scanRequest', () => {
  it('takes the usual line and gives the fields the rules read', () => {
    const line = Buffer.from(request({}, { stream: false, temperature: -1.5e-3, stop: null, n: 0, logprobs: true }))
    expect(agrees(line)).toBe(true)
    expect(scanRequest(line)).toEqual({
      custom_id: 'req-1',
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gemma-3-12b', stream: false, messages: true, prompt: undefined, input: undefined },
    })
  })

  it('keeps the last of a key given twice, as JSON.parse does, body included', () => {
    const twice = '{"custom_id":"a","custom_id":"b","method":"POST","url":"/v1/completions","body":{"model":"x","prompt":"p"},"body":{"model":"y","model":"z","prompt":null}}'
    expect(agrees(Buffer.from(twice))).toBe(true)
    expect(scanRequest(Buffer.from(twice))).toMatchObject({ custom_id: 'b', body: { model: 'z', prompt: null } })
    // A body that was an object and then is not: the later one counts.
    expect(scanRequest(Buffer.from('{"custom_id":"a","method":"POST","url":"u","body":{"model":"x"},"body":[]}'))).toBeNull()
  })

  it('reads escapes and other values of the small fields exactly', () => {
    for (const line of [
      request({ custom_id: 'tab\there "quoted" \\ back/slash \u0001' }),
      request({ custom_id: 12.5e3 }),
      request({ method: { verb: 'POST' }, url: ['/v1/chat/completions'] }),
      request({}, { model: null, stream: 'yes' }),
      request({}, { model: true, stream: [true] }),
    ]) {
      expect(agrees(Buffer.from(line)), line).toBe(true)
    }
  })

  it('declines what it cannot be sure of: the usual parse words its problem', () => {
    const declined = [
      '', // blank
      '   ',
      '\ufeff' + request(), // a BOM: the decoder drops it, the scan does not
      request().replace('"custom_id"', '"custom\\u005fid"'), // an escaped key could spell a tracked one
      request().replace('"model"', '"mod\\u0065l"'),
      request({ custom_id: 'café' }), // a value read by the rules outside ASCII
      request({}, { model: 'modèle' }),
      request({ url: '/v1/chat/complétions' }),
      JSON.stringify({ method: 'POST', url: '/v1/chat/completions', body: {} }), // a field missing
      request({ body: [] }),
      request({ body: 'x' }),
      request({ body: null }),
      '[1, 2]',
      '"just a string"',
      '{"custom_id":"a","method":"POST","url":"u","body":{"model":"m",}}', // a trailing comma
      '{"custom_id":"a","method":"POST","url":"u","body":{"model":"m"}} x', // after the object
      '{"custom_id":"a","method":"POST","url":"u","body":{"model":"m"}}}',
      '{"custom_id":"a" "method":"POST","url":"u","body":{}}',
      '{"custom_id":"a","method":"POST","url":"u","body":{"n":01}}',
      '{"custom_id":"a","method":"POST","url":"u","body":{"n":1.}}',
      '{"custom_id":"a","method":"POST","url":"u","body":{"n":.5}}',
      '{"custom_id":"a","method":"POST","url":"u","body":{"n":+1}}',
      '{"custom_id":"a","method":"POST","url":"u","body":{"n":1e}}',
      '{"custom_id":"a","method":"POST","url":"u","body":{"n":-}}',
      '{"custom_id":"a","method":"POST","url":"u","body":{"n":tru}}',
      '{"custom_id":"a","method":"POST","url":"u","body":{"n":nul}}',
      '{"custom_id":"a","method":"POST","url":"u","body":{"n":NaN}}',
      '{"custom_id":"a","method":"POST","url":"u","body":{"s":"\\x"}}',
      '{"custom_id":"a","method":"POST","url":"u","body":{"s":"\\u12"}}',
      '{"custom_id":"a","method":"POST","url":"u","body":{"s":"raw\ttab"}}', // a control character in a string
      "{'custom_id':'a'}",
      `{"custom_id":"a","method":"POST","url":"u","body":{"deep":${'['.repeat(70)}${']'.repeat(70)}}}`,
    ]
    for (const line of declined) expect(scanRequest(Buffer.from(line)), line).toBeNull()
    // Deep but not too deep is fine.
    expect(agrees(Buffer.from(request({}, { deep: JSON.parse(`${'['.repeat(50)}${']'.repeat(50)}`) })))).toBe(true)
  })

  it('takes whitespace where JSON allows it, CR of a CRLF file included', () => {
    const spaced = ' \t{ "custom_id" : "a" ,\t"method":"POST" , "url" : "/v1/embeddings", "body" : { "model" : "m" , "input" : [ 1 , 2 ] } } \r'
    expect(agrees(Buffer.from(spaced))).toBe(true)
  })

  it('never takes a line JSON.parse refuses, nor reads one differently: 20,000 mutated lines', () => {
    const lent: LentBuffer | null = lendReadBuffer()
    expect(lent, 'WebAssembly SIMD is there on Node 20: the lent buffers must be too').not.toBeNull()
    const random = prng(0x5ca9)
    const pick = <T>(a: readonly T[]): T => a[Math.floor(random() * a.length)]
    const SIGNIFICANT = [...'{}[]",:\\ \t\r0123456789-+.eEtrufalsn/bu'].map((c) => c.charCodeAt(0))
    const long = 'Summarize the following document in three short sentences, please: ' + 'the quick brown fox jumps over the lazy dog '.repeat(6)
    const seeds = [
      request(),
      request({}, { messages: [{ role: 'user', content: long }, { role: 'assistant', content: `${long}\t"and"\n${long}` }] }),
      request({}, { stream: true, n: 2, stop: ['\n'], logit_bias: { '50256': -100 } }),
      JSON.stringify({ custom_id: 'e-1', method: 'POST', url: '/v1/embeddings', body: { model: 'm', input: ['a', 'b'], dimensions: 3 } }),
      '{"custom_id":"x","method":"POST","url":"/v1/completions","body":{"model":"m","prompt":"p","echo":false,"best_of":1.0e+2}}',
    ].map((s) => Buffer.from(s))
    let taken = 0
    let declined = 0
    for (let n = 0; n < 20_000; n++) {
      const line = Buffer.from(pick(seeds))
      let bytes = [...line]
      for (let edits = 1 + Math.floor(random() * 3); edits > 0; edits--) {
        const at = Math.floor(random() * (bytes.length + 1))
        const what = random()
        const byte = random() < 0.9 ? pick(SIGNIFICANT) : Math.floor(random() * 0x80)
        if (what < 0.4) bytes[at] = byte
        else if (what < 0.7) bytes.splice(at, 0, byte)
        else bytes.splice(at, 1)
        bytes = bytes.filter((b) => b !== undefined)
      }
      const mutated = Buffer.from(bytes)
      if (!isUtf8(mutated)) continue
      const took = agrees(mutated)
      if (took) taken += 1
      else declined += 1
      // The same line in a lent read buffer, where long strings are stepped over 16 bytes at a time, at any
      // alignment: the same verdict and the same fields.
      if (lent) {
        const at = n % 61
        mutated.copy(lent.buffer, at)
        const inLent = lent.buffer.subarray(at, at + mutated.length)
        expect(scanRequest(inLent), mutated.toString('utf8')).toEqual(scanRequest(mutated))
      }
    }
    lent?.release()
    // Both kinds were seen plenty, so the comparison meant something.
    expect(taken).toBeGreaterThan(1000)
    expect(declined).toBeGreaterThan(1000)
  })
})

describe('the plain run in a lent read buffer (WebAssembly SIMD)', () => {
  it('stops at the 16-byte step that holds a quote, a backslash or a control character, wherever it is', () => {
    const lent = lendReadBuffer()!
    try {
      for (const stop of [0x22, 0x5c, 0x00, 0x09, 0x0a, 0x1f]) {
        for (let align = 0; align < 16; align++) {
          for (let at = 0; at < 100; at++) {
            const run = Buffer.alloc(100, 0x61)
            run[at] = stop
            run.copy(lent.buffer, align)
            const b = lent.buffer.subarray(align, align + 100)
            const end = skipPlainRun(b, 0, 100)
            // Never past the stop, and past every whole step before it.
            expect(end, `stop 0x${stop.toString(16)} at ${at}, aligned ${align}`).toBeLessThanOrEqual(at)
            expect(at - end, `stop 0x${stop.toString(16)} at ${at}, aligned ${align}`).toBeLessThan(16)
          }
        }
      }
      // Bytes of UTF-8 text (0x80 and up) and the bytes just above the controls are plain.
      const text = Buffer.from('naïve café 東京 — “quoted” ' + ' !#$%&'.repeat(10))
      text.copy(lent.buffer, 5)
      expect(skipPlainRun(lent.buffer.subarray(5, 5 + text.length), 0, text.length)).toBeGreaterThan(text.length - 16)
      // A buffer of its own is not stepped over here: the caller's byte loop does it all.
      expect(skipPlainRun(Buffer.from(text), 0, text.length)).toBe(0)
    } finally {
      lent.release()
    }
  })

  it('lends each buffer to one reader at a time, and takes it back', () => {
    const all: LentBuffer[] = []
    for (let b = lendReadBuffer(); b !== null; b = lendReadBuffer()) all.push(b)
    expect(all.length).toBeGreaterThanOrEqual(2)
    // No two overlap.
    const starts = all.map((b) => b.buffer.byteOffset).sort((x, y) => x - y)
    for (let k = 1; k < starts.length; k++) expect(starts[k] - starts[k - 1]).toBeGreaterThanOrEqual(all[0].buffer.length)
    all[0].release()
    all[0].release() // twice is harmless
    const again = lendReadBuffer()
    expect(again?.buffer.byteOffset).toBe(all[0].buffer.byteOffset)
    expect(lendReadBuffer()).toBeNull()
    again!.release()
    for (const b of all.slice(1)) b.release()
  })
})
