// The pure parts of vbs: the progress line, the CSV reader, the option parser, the terminal's redrawn bar, and
// the order in which the server and key are looked for.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { progressLine } from '../../cli/progress'
import { parseCsv } from '../../cli/csv'
import { parseArgs } from '../../cli/args'
import { Output } from '../../cli/output'
import { discover } from '../../cli/discovery'
import { fillTemplate } from '../../cli/make'
import { tempDir } from '../helpers/service'
import type { Job } from '../../main/contract'

function job(patch: Partial<Job> = {}): Job {
  return {
    id: 'batch_x', object: 'batch', endpoint: '/v1/chat/completions', model: 'm', errors: null, input_file_id: 'file-x', completion_window: '24h',
    status: 'in_progress', output_file_id: null, error_file_id: null, created_at: 0, in_progress_at: 0, expires_at: 0, finalizing_at: null,
    completed_at: null, failed_at: null, expired_at: null, cancelling_at: null, cancelled_at: null, request_counts: { total: 100, completed: 0, failed: 0 },
    usage: { input_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 },
    metadata: null, status_detail: null, hold: null, running: true,
    progress: { chunk: 2, chunks: 4, completed: 40, failed: 2, total: 100, requestsPerSecond: 12.5, tokensPerSecond: 1530, etaSeconds: 75, hold: null, updatedAt: 0 },
    ...patch,
  }
}

describe('progressLine', () => {
  it('says status, chunk k of N, counts, rates, ETA and why the job waits', () => {
    expect(progressLine(job())).toBe('batch_x in_progress · chunk 2/4 · 42/100 done (40 ok, 2 failed) · 12.5 req/s · 1,530 tok/s · ETA 1m15s')
    expect(progressLine(job(), { bar: true })).toContain('[##########--------------] 42/100 done')
    const held = job({ hold: { kind: 'engine_loading', detail: 'waiting for engine: loading m', since: 0 } })
    expect(progressLine(held)).toMatch(/ · held \(engine_loading\): waiting for engine: loading m$/)
    expect(progressLine(job({ status: 'completed', request_counts: { total: 100, completed: 98, failed: 2 } }))).toBe('batch_x completed · 100/100 done (98 ok, 2 failed)')
    expect(progressLine(job({ status: 'validating', progress: null, request_counts: { total: 0, completed: 0, failed: 0 } }))).toBe('batch_x validating')
  })
})

describe('parseCsv', () => {
  it('reads quoted fields with delimiters, doubled quotes and line breaks, CRLF, a BOM, and skips blank lines', () => {
    expect(parseCsv('\uFEFFa,b\r\n"x, y","say ""hi"""\r\n\r\n"multi\nline",é🚀\n')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['x, y', 'say "hi"'] },
      { line: 4, fields: ['multi\nline', 'é🚀'] },
    ])
    expect(parseCsv('a\tb\n1\t"2\t3"', '\t')).toEqual([{ line: 1, fields: ['a', 'b'] }, { line: 2, fields: ['1', '2\t3'] }])
    expect(parseCsv('a,b\n1,\n')).toEqual([{ line: 1, fields: ['a', 'b'] }, { line: 2, fields: ['1', ''] }])
    expect(() => parseCsv('a\n"open\nstill')).toThrow('line 2: a quoted field is never closed')
  })

  it('fills templates, braces doubled for literal ones', () => {
    expect(fillTemplate('{{x}} {a}-{ b }', { a: '1', b: '2' })).toBe('{x} 1-2')
  })
})

describe('parseArgs', () => {
  const specs = { wait: { kind: 'switch', short: 'w', help: '' }, out: { kind: 'value', short: 'o', help: '' }, metadata: { kind: 'list', help: '' } } as const
  it('takes switches, values (both spellings), repeated lists and -- ', () => {
    const p = parseArgs(['f.jsonl', '-w', '--out=d', '--metadata', 'a=1', '--metadata=b=2', '--', '--not-an-option'], specs, 'submit')
    expect(p.positionals).toEqual(['f.jsonl', '--not-an-option'])
    expect([...p.switches]).toEqual(['wait'])
    expect(p.values.get('out')).toBe('d')
    expect(p.lists.get('metadata')).toEqual(['a=1', 'b=2'])
    expect(() => parseArgs(['--out'], specs, 'submit')).toThrow('vbs submit: --out needs a value')
    expect(() => parseArgs(['-x'], specs, 'submit')).toThrow("unknown option '-x'")
    expect(() => parseArgs(['--wait=yes'], specs, 'submit')).toThrow('--wait takes no value')
  })
})

describe('Output on a terminal', () => {
  it('redraws one progress line with a bar in place, and ends it before other text', () => {
    let written = ''
    const tty = { isTTY: true, columns: 200, write: (s: string) => ((written += s), true) } as unknown as NodeJS.WriteStream
    const out = new Output({ json: false }, tty, tty, {})
    out.job(job())
    out.say('done')
    expect(written).toBe(`\r\x1b[2K${progressLine(job(), { bar: true })}\ndone\n`)
  })

  it('plain lines off a terminal: one per change, the same line never twice', () => {
    let written = ''
    const pipe = { isTTY: false, write: (s: string) => ((written += s), true) } as unknown as NodeJS.WriteStream
    const out = new Output({ json: false }, pipe, pipe, { VBS_PROGRESS_INTERVAL_S: '0' })
    out.job(job())
    out.job(job())
    out.job(job({ status: 'finalizing' }))
    expect(written.split('\n').filter(Boolean)).toEqual([progressLine(job()), progressLine(job({ status: 'finalizing' }))])
  })
})

describe('discover', () => {
  it('VBS_URL, then OPENAI_BASE_URL, then the data dir (service.json, else the default port)', () => {
    const dir = tempDir()
    fs.writeFileSync(path.join(dir, 'api-key'), 'file-key\n')
    expect(discover({ VBS_URL: 'http://h:1/', VBS_API_KEY: 'k', OPENAI_BASE_URL: 'http://o/v1', VBS_DATA_DIR: dir })).toEqual({ url: 'http://h:1', key: 'k', source: 'VBS_URL' })
    // The local key file goes to this machine only, never to another server a variable names.
    expect(discover({ VBS_URL: 'http://h:1', VBS_DATA_DIR: dir }).key).toBeNull()
    expect(discover({ VBS_URL: 'http://127.0.0.1:4080', VBS_DATA_DIR: dir }).key).toBe('file-key')
    expect(discover({ OPENAI_BASE_URL: 'http://localhost:4080/v1', VBS_DATA_DIR: dir }).key).toBe('file-key')
    expect(discover({ OPENAI_BASE_URL: 'http://o:2/v1', OPENAI_API_KEY: 'ok', VBS_DATA_DIR: dir })).toEqual({ url: 'http://o:2', key: 'ok', source: 'OPENAI_BASE_URL' })
    expect(discover({ VBS_DATA_DIR: dir })).toMatchObject({ url: 'http://127.0.0.1:4080', key: 'file-key' })
    fs.writeFileSync(path.join(dir, 'settings.json'), '{"port": 5000}')
    expect(discover({ VBS_DATA_DIR: dir }).url).toBe('http://127.0.0.1:5000')
    fs.writeFileSync(path.join(dir, 'service.json'), JSON.stringify({ url: 'http://127.0.0.1:41234', pid: 1, version: 'x', started_at: 0 }))
    expect(discover({ VBS_DATA_DIR: dir })).toEqual({ url: 'http://127.0.0.1:41234', key: 'file-key', source: path.join(dir, 'service.json') })
    expect(discover({ XDG_DATA_HOME: '/x/share', HOME: '/home/u' }).source).toContain('/x/share/vllm-batch-server')
  })
})
