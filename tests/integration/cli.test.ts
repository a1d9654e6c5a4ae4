// The vbs command as a user runs it: the built JS (out/cli/vbs.js) as a child process, its stdout a pipe (not a
// terminal), against the real service (Koa on port 0, SQLite in a temp dir) running the fake vLLM.
import { execFile, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { jsonl, requestLine, tempDir, type TestService } from '../helpers/service'
import { eventually, fakeServices } from '../helpers/fake-engine'
import { batchReaches } from '../helpers/batches'
import { buildCli, startVbs, VBS, vbs } from '../helpers/vbs'
import type { Job } from '../../main/contract'

const services = fakeServices({ retryBaseMs: 50 })
afterEach(services.cleanup)
beforeAll(buildCli)

const envOf = (t: TestService, extra: Record<string, string> = {}): Record<string, string> => ({ VBS_URL: t.url, VBS_API_KEY: t.apiKey, VBS_PROGRESS_INTERVAL_S: '0', ...extra })

function writeFile(text: string, name = 'requests.jsonl'): string {
  const file = path.join(tempDir('vbs-cli-'), name)
  fs.writeFileSync(file, text)
  return file
}

interface OutLine {
  custom_id: string
  response: { status_code: number; body: { choices?: { message: { content: string } }[] } } | null
  error: { code: string } | null
}
const readJsonl = <T>(file: string): T[] => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T)

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe('vbs submit --wait', () => {
  it('uploads, runs to completion with plain progress lines, writes the output file, exits 0', async () => {
    const { t } = await services.boot({ FAKE_VLLM_LATENCY_MS: '100' }, { chunkSize: 10, batchConcurrency: 2 })
    const n = 30
    const input = writeFile(jsonl(n, 'w'))
    const outDir = path.join(tempDir('vbs-out-'), 'results')
    const r = await vbs(['submit', input, '--wait', '--out', outDir, '--metadata', 'project=cli-test', '--metadata', 'run=1'], envOf(t))
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const id = /created (batch_\w+)/.exec(r.stdout)![1]
    expect(r.stdout).toMatch(/uploaded .*requests\.jsonl as file-\w+/)
    // Not a terminal: whole lines, no bar redrawn in place, no escape codes.
    expect(r.stdout).not.toContain('\r')
    expect(r.stdout).not.toContain('\u001b')
    const progress = r.stdout.split('\n').filter((l) => l.startsWith(`${id} `))
    expect(progress.some((l) => /^batch_\w+ in_progress · chunk \d\/3 · \d+\/30 done \(\d+ ok, 0 failed\)/.test(l))).toBe(true)
    expect(progress.some((l) => / req\/s · .* tok\/s/.test(l))).toBe(true)
    expect(progress.some((l) => /ETA \d/.test(l))).toBe(true)
    expect(r.stdout).toContain(`${id} completed: 30 ok, 0 failed of 30`)
    const output = readJsonl<OutLine>(path.join(outDir, `${id}_output.jsonl`))
    expect(output).toHaveLength(n)
    expect(new Set(output.map((l) => l.custom_id)).size).toBe(n)
    for (const l of output) expect(l.response!.body.choices![0].message.content).toBe(`echo: Say ${l.custom_id}`)
    expect(fs.existsSync(path.join(outDir, `${id}_error.jsonl`))).toBe(false)
    const batch = await t.client.batches.retrieve(id)
    expect(batch.metadata).toEqual({ project: 'cli-test', run: '1' })
  })

  it('--model runs every line on that model; --json prints the final batch and its files', async () => {
    const { t, fake } = await services.boot()
    const input = writeFile(jsonl(5, 'm'))
    const outDir = tempDir('vbs-out-')
    const r = await vbs(['submit', input, '--model', 'model-b', '--wait', '--out', outDir, '--json'], envOf(t))
    expect(r.code).toBe(0)
    const job = JSON.parse(r.stdout) as Job & { downloaded: { kind: string; path: string }[] }
    expect(job).toMatchObject({ status: 'completed', model: 'test-model-b', request_counts: { total: 5, completed: 5, failed: 0 } })
    expect(job.downloaded).toEqual([expect.objectContaining({ kind: 'output', path: path.join(outDir, `${job.id}_output.jsonl`) })])
    // The progress went to stderr, as lines, so stdout is JSON only.
    expect(r.stderr).toContain(`${job.id} completed`)
    expect(fake.launches().map((l) => l.model)).toEqual(['test-org/test-model-b'])
  })

  it('Ctrl-C while waiting leaves the batch running and says how to reattach; vbs wait reattaches', async () => {
    const { t } = await services.boot({ FAKE_VLLM_LATENCY_MS: '300' }, { batchConcurrency: 1 })
    const input = writeFile(jsonl(20, 's'))
    const run = startVbs(['submit', input, '--wait'], envOf(t))
    const [, id] = await run.printed(/(batch_\w+) in_progress · chunk/)
    run.child.kill('SIGINT')
    expect(await run.exited).toBe(130)
    expect(run.stdout()).toContain(`Stopped waiting: ${id} goes on (in_progress) on the server.`)
    expect(run.stdout()).toContain(`Reattach with: vbs wait ${id}`)
    // Still running, not cancelled: it goes on and completes.
    expect((await t.client.batches.retrieve(id)).status).toBe('in_progress')
    const outDir = tempDir('vbs-out-')
    const again = await vbs(['wait', id, '--out', outDir], envOf(t))
    expect(again.code).toBe(0)
    expect(again.stdout).toContain(`${id} completed: 20 ok, 0 failed of 20`)
    expect(readJsonl<OutLine>(path.join(outDir, `${id}_output.jsonl`))).toHaveLength(20)
  })
})

/** util-linux `script` runs a command on a pseudo-terminal: vbs then sees a terminal, as a person's shell gives it. */
const hasScript = spawnSync('script', ['--version']).status === 0

describe('vbs submit --wait on a terminal', () => {
  it.skipIf(!hasScript)('shows an upload bar for a big file and one progress line redrawn with a bar', async () => {
    const { t } = await services.boot({}, { chunkSize: 500 })
    const pad = 'x'.repeat(400)
    const input = writeFile(Array.from({ length: 3000 }, (_, i) => requestLine(`t-${i + 1}`, {}, { messages: [{ role: 'user', content: `${i} ${pad}` }] })).join('\n') + '\n')
    expect(fs.statSync(input).size).toBeGreaterThan(1024 * 1024)
    const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(VBS)} submit ${JSON.stringify(input)} --wait`
    const out = await new Promise<{ code: number; text: string }>((resolve) => {
      execFile('script', ['-qefc', command, '/dev/null'], { env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm', ...envOf(t) }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout) =>
        resolve({ code: err ? Number((err as NodeJS.ErrnoException & { code?: number }).code) : 0, text: stdout }),
      )
    })
    expect(out.code).toBe(0)
    expect(out.text).toContain('\r\u001b[2Kuploading [########################] 100%')
    const id = /created (batch_\w+)/.exec(out.text)![1]
    // The progress is redrawn in place (carriage return, clear line), with a bar, and ends on its own line.
    expect(out.text).toMatch(new RegExp(`\\r\u001b\\[2K${id} (in_progress|finalizing|completed) · .*\\[[#-]{24}\\] [\\d,]+/3,000 done`))
    expect(out.text).toContain(`${id} completed: 3,000 ok, 0 failed of 3,000`)
  })
})

describe('vbs exit codes', () => {
  it('1: a batch that fails validation, naming its bad lines; and a cancelled one', async () => {
    const { t } = await services.boot({ FAKE_VLLM_LATENCY_MS: '300' }, { batchConcurrency: 1 })
    const bad = writeFile([requestLine('a'), '{not json', requestLine('a')].join('\n') + '\n')
    const r = await vbs(['submit', bad, '--wait'], envOf(t))
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/batch_\w+ failed: 0 ok, 0 failed of 0/)
    expect(r.stdout).toContain('line 2')
    expect(r.stdout).toContain('[invalid_json_line]')
    expect(r.stdout).toContain('[duplicate_custom_id]')

    const slow = writeFile(jsonl(30, 'c'))
    const created = await vbs(['submit', slow, '--json'], envOf(t))
    expect(created.code).toBe(0)
    const id = (JSON.parse(created.stdout) as { id: string }).id
    await batchReaches(t, id, ['in_progress'])
    const cancel = await vbs(['cancel', id], envOf(t))
    expect(cancel.code).toBe(0)
    expect(cancel.stdout).toMatch(new RegExp(`${id} (cancelling|cancelled)`))
    const waited = await vbs(['wait', id], envOf(t))
    expect(waited.code).toBe(1)
    expect(waited.stdout).toMatch(new RegExp(`${id} cancelled: \\d+ ok, \\d+ failed of 30`))
  })

  it('2: usage errors, each named in one line on stderr', async () => {
    const env = { VBS_URL: 'http://127.0.0.1:9' }
    const cases: [string[], RegExp][] = [
      [[], /usage: vbs <command>/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['submit'], /give the requests file/],
      [['submit', '/nonexistent/x.jsonl'], /cannot read \/nonexistent\/x\.jsonl: no such file/],
      [['submit', writeFile('x', 'prompts.csv')], /must be a \.jsonl file/],
      [['submit', writeFile(jsonl(1)), '--bogus'], /unknown option '--bogus'/],
      [['submit', writeFile(jsonl(1)), '--metadata', 'novalue'], /--metadata takes key=value, got 'novalue'/],
      [['submit', writeFile(jsonl(1)), '--out', 'x'], /--out needs --wait/],
      [['submit', writeFile(jsonl(1)), '--endpoint', '/v1/images'], /--endpoint must be one of/],
      [['status', 'not-a-batch'], /'not-a-batch' is not a batch id/],
      [['ls', '--limit', 'lots'], /--limit must be a whole number from 1 to 100, got 'lots'/],
      [['make', writeFile('a,b\n1,2\n', 'p.csv')], /--model is required/],
    ]
    for (const [args, message] of cases) {
      const r = await vbs(args, env)
      expect({ args, code: r.code }).toEqual({ args, code: 2 })
      expect(r.stderr + r.stdout).toMatch(message)
      if (args.length > 0) expect(r.stderr.trim().split('\n')).toHaveLength(1)
    }
    expect((await vbs(['submit', '/nonexistent/x.jsonl'], env)).stderr).toBe('vbs submit: cannot read /nonexistent/x.jsonl: no such file\n')
  })

  it('3: no server at the address, saying where it looked', async () => {
    const port = await closedPort()
    const r = await vbs(['ls'], { VBS_URL: `http://127.0.0.1:${port}`, VBS_API_KEY: 'k' })
    expect(r.code).toBe(3)
    expect(r.stderr).toBe(`vbs: cannot reach the server at http://127.0.0.1:${port} (VBS_URL): ECONNREFUSED. Is the service running? Set VBS_URL to its address.\n`)
    const up = await vbs(['submit', writeFile(jsonl(2))], { VBS_URL: `http://127.0.0.1:${port}` })
    expect(up.code).toBe(3)
    // No service recorded in an empty data dir: the default address, and that nothing was found.
    const none = await vbs(['models'], { VBS_DATA_DIR: tempDir(), VBS_PORT: String(port) })
    expect(none.code).toBe(3)
    expect(none.stderr).toContain('no VBS_URL, no running service recorded in')
  })

  it('4: the server refuses: a wrong key, an unknown batch, an unknown model, a retry too early', async () => {
    const { t } = await services.boot({ FAKE_VLLM_LATENCY_MS: '300' }, { batchConcurrency: 1 })
    const wrongKey = await vbs(['ls'], envOf(t, { VBS_API_KEY: 'wrong' }))
    expect(wrongKey.code).toBe(4)
    expect(wrongKey.stderr).toMatch(/^vbs: GET \/api\/batches\?limit=20: 401 .*the API key is wrong/)
    const unknown = await vbs(['status', 'batch_doesnotexist'], envOf(t))
    expect(unknown.code).toBe(4)
    expect(unknown.stderr).toBe('vbs: GET /api/batches/batch_doesnotexist: 404 No such Batch object: batch_doesnotexist\n')
    const model = await vbs(['submit', writeFile(jsonl(2)), '--model', 'no-such-model'], envOf(t))
    expect(model.code).toBe(4)
    expect(model.stderr).toBe('vbs: POST /v1/batches: 404 The model "no-such-model" does not exist: it is not in models.yaml.\n')
    const running = await vbs(['submit', writeFile(jsonl(10)), '--json'], envOf(t))
    const id = (JSON.parse(running.stdout) as { id: string }).id
    const early = await vbs(['retry', id], envOf(t))
    expect(early.code).toBe(4)
    expect(early.stderr).toMatch(/409 Batch batch_\w+ is (validating|in_progress); its failed requests can be retried once it has ended\./)
  })
})

describe('vbs: the other commands', () => {
  it('ls, status, results, download and retry on a batch with failed requests', async () => {
    const { t } = await services.boot()
    const text = [requestLine('ok-1'), requestLine('bad-1', {}, { messages: [] }), requestLine('ok-2')].join('\n') + '\n'
    const r = await vbs(['submit', writeFile(text), '--wait'], envOf(t))
    expect(r.code).toBe(0) // completed, with one failed request: the batch itself ended well
    const id = /created (batch_\w+)/.exec(r.stdout)![1]
    expect(r.stdout).toContain(`${id} completed: 2 ok, 1 failed of 3`)

    const ls = await vbs(['ls'], envOf(t))
    expect(ls.code).toBe(0)
    expect(ls.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+MODEL\s+DONE\s+FAILED\s+CREATED/)
    expect(ls.stdout).toMatch(new RegExp(`${id}\\s+completed\\s+test-model-a\\s+3/3\\s+1`))
    const status = await vbs(['status', id, '--json'], envOf(t))
    expect(JSON.parse(status.stdout)).toMatchObject({ id, status: 'completed', request_counts: { total: 3, completed: 2, failed: 1 } })
    const watched = await vbs(['status', id, '--watch'], envOf(t))
    expect(watched.code).toBe(0)
    expect(watched.stdout).toContain(`${id} completed: 2 ok, 1 failed of 3`)
    const failed = await vbs(['results', id, '--state', 'failed'], envOf(t))
    expect(failed.code).toBe(0)
    expect(failed.stdout).toMatch(/^2\s+bad-1\s+failed\s+400/m)
    expect(failed.stdout).not.toContain('ok-1')

    const dir = tempDir('vbs-dl-')
    const dl = await vbs(['download', id, '--out', dir], envOf(t))
    expect(dl.code).toBe(0)
    expect(readJsonl<OutLine>(path.join(dir, `${id}_output.jsonl`)).map((l) => l.custom_id).sort()).toEqual(['ok-1', 'ok-2'])
    expect(readJsonl<OutLine>(path.join(dir, `${id}_error.jsonl`)).map((l) => [l.custom_id, l.response?.status_code])).toEqual([['bad-1', 400]])

    // The failed request fails again on its retry: the new batch ends completed with 1 failed.
    const retry = await vbs(['retry', id, '--wait', '--json'], envOf(t))
    expect(retry.code).toBe(0)
    expect(JSON.parse(retry.stdout)).toMatchObject({ status: 'completed', metadata: { retry_of: id }, request_counts: { total: 1, completed: 0, failed: 1 } })
  })

  it('models, and compare --wait on two models', async () => {
    const { t } = await services.boot()
    const models = await vbs(['models'], envOf(t))
    expect(models.code).toBe(0)
    expect(models.stdout).toMatch(/^test-model-a\s+vllm\s+no\s+model-a, a-alias$/m)
    const r = await vbs(['compare', writeFile(jsonl(4, 'cmp')), '--models', 'test-model-a,model-b', '--wait', '--json'], envOf(t))
    expect(r.code).toBe(0)
    const c = JSON.parse(r.stdout) as { models: string[]; arms: { status: string; completed: number }[] }
    expect(c.models).toEqual(['test-model-a', 'test-model-b'])
    expect(c.arms.map((a) => [a.status, a.completed])).toEqual([['completed', 4], ['completed', 4]])
    const one = await vbs(['compare', writeFile(jsonl(1)), '--models', 'test-model-a'], envOf(t))
    expect(one.code).toBe(2)
    expect(one.stderr).toContain('--models takes 2 to 4 models')
  })
})

describe('vbs: finding the server', () => {
  it('on the same machine from the data dir (service.json and the key file), and by the OpenAI variables', async () => {
    const dataDir = tempDir()
    // No key in the settings: the service generates one into <data>/api-key, as on a user's machine.
    const { t } = await services.boot({}, { apiKey: undefined }, dataDir)
    expect(fs.readFileSync(path.join(dataDir, 'api-key'), 'utf8').trim()).toBe(t.apiKey)
    const local = await vbs(['models', '--json'], { VBS_DATA_DIR: dataDir })
    expect(local.code).toBe(0)
    expect((JSON.parse(local.stdout) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual(['test-model-a', 'test-model-b'])
    const openai = await vbs(['models'], { OPENAI_BASE_URL: `${t.url}/v1`, OPENAI_API_KEY: t.apiKey })
    expect(openai.code).toBe(0)
    // VBS_URL wins over the OpenAI variables.
    const port = await closedPort()
    const both = await vbs(['models'], { VBS_URL: `http://127.0.0.1:${port}`, OPENAI_BASE_URL: `${t.url}/v1`, OPENAI_API_KEY: t.apiKey })
    expect(both.code).toBe(3)
    // Once the service has stopped, its service.json is gone.
    await t.stop()
    services.untrack(t)
    expect(fs.existsSync(path.join(dataDir, 'service.json'))).toBe(false)
  })
})

describe('vbs make', () => {
  it('turns a CSV with quoting and Unicode into batch lines that run', async () => {
    const csv =
      '\uFEFFid,question,context\r\n' +
      'q1,"What is 2, plus 2?",arithmetic\r\n' +
      'q2,"She said ""hi"" — twice",quotes\r\n' +
      'q3,"a line\nbreak inside","naïve café 日本語 🚀"\r\n' +
      '\r\n' +
      'q4,Ünïcödé ключ,"x"\r\n'
    const file = writeFile(csv, 'prompts.csv')
    const r = await vbs(['make', file, '--model', 'test-model-a', '--id-column', 'id', '--system', 'Be brief.', '--template', 'Q: {question} [{context}] {{literal}}'], {})
    expect(r.code).toBe(0)
    expect(r.stderr).toBe(`made 4 requests for test-model-a from ${file}\n`)
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { custom_id: string; url: string; body: { model: string; messages: { role: string; content: string }[] } })
    expect(lines.map((l) => [l.custom_id, l.body.messages[1].content])).toEqual([
      ['q1', 'Q: What is 2, plus 2? [arithmetic] {literal}'],
      ['q2', 'Q: She said "hi" — twice [quotes] {literal}'],
      ['q3', 'Q: a line\nbreak inside [naïve café 日本語 🚀] {literal}'],
      ['q4', 'Q: Ünïcödé ключ [x] {literal}'],
    ])
    for (const l of lines) {
      expect(l.url).toBe('/v1/chat/completions')
      expect(l.body.model).toBe('test-model-a')
      expect(l.body.messages[0]).toEqual({ role: 'system', content: 'Be brief.' })
    }

    // What make wrote runs as a batch, answers matched by custom_id.
    const { t } = await services.boot()
    const made = writeFile(r.stdout, 'made.jsonl')
    const outDir = tempDir('vbs-out-')
    const run = await vbs(['submit', made, '--wait', '--out', outDir], envOf(t))
    expect(run.code).toBe(0)
    const id = /created (batch_\w+)/.exec(run.stdout)![1]
    const answers = new Map(readJsonl<OutLine>(path.join(outDir, `${id}_output.jsonl`)).map((l) => [l.custom_id, l.response!.body.choices![0].message.content]))
    expect(answers.get('q3')).toContain('naïve café 日本語 🚀')
    expect(answers.size).toBe(4)
  })

  it('a text file (a prompt a line), the default template, and bad tables named by line', async () => {
    const txt = await vbs(['make', writeFile('first prompt\n\nsecond — prompt\n', 'p.txt'), '--model', 'm', '--endpoint', '/v1/completions', '--max-tokens', '16'], {})
    expect(txt.code).toBe(0)
    expect(txt.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([
      { custom_id: 'line-1', method: 'POST', url: '/v1/completions', body: { model: 'm', prompt: 'first prompt', max_tokens: 16 } },
      { custom_id: 'line-3', method: 'POST', url: '/v1/completions', body: { model: 'm', prompt: 'second — prompt', max_tokens: 16 } },
    ])
    const one = await vbs(['make', writeFile('prompt,other\nhello,x\n', 'p.csv'), '--model', 'm'], {})
    expect((JSON.parse(one.stdout) as { custom_id: string; body: { messages: unknown } }).body.messages).toEqual([{ role: 'user', content: 'hello' }])

    const bad: [string, string[], string][] = [
      ['id,q\n1,"never closed\n2,x\n', [], 'line 2: a quoted field is never closed'],
      ['id,q\n1,a\n2,b,c\n', [], 'line 3: 3 fields, but the header has 2'],
      ['id,q\n1,"a"b\n', [], 'line 2: text after a closing quote'],
      ['a,b\n1,2\n', [], "has the columns a, b; say which make the prompt with --template, e.g. --template '{a}'"],
      ['id,q\n1,a\n', ['--template', '{question}'], "--template uses {question}, which is not a column"],
      ['id,q\n1,a\n1,b\n', ['--id-column', 'id', '--template', '{q}'], "line 3: the id '1' is already used on line 2"],
    ]
    for (const [csv, extra, message] of bad) {
      const r = await vbs(['make', writeFile(csv, 'bad.csv'), '--model', 'm', ...extra], {})
      expect({ csv, code: r.code }).toEqual({ csv, code: 2 })
      expect(r.stderr).toContain(message)
      expect(r.stdout).toBe('')
    }
    const latin1 = writeFile('', 'latin.csv')
    fs.writeFileSync(latin1, Buffer.from([0x70, 0x72, 0x6f, 0x6d, 0x70, 0x74, 0x0a, 0x63, 0x61, 0x66, 0xe9, 0x0a]))
    const enc = await vbs(['make', latin1, '--model', 'm'], {})
    expect(enc.code).toBe(2)
    expect(enc.stderr).toContain('is not UTF-8 text')
  })
})

describe('vbs: a server that restarts while it waits', () => {
  it('keeps waiting across a restart of the service and ends with the job', async () => {
    const dataDir = tempDir()
    const first = await services.boot({ FAKE_VLLM_LATENCY_MS: '200' }, { batchConcurrency: 1, port: 0 }, dataDir)
    const input = writeFile(jsonl(15, 'r'))
    const run = startVbs(['submit', input, '--wait'], { VBS_DATA_DIR: dataDir, VBS_API_KEY: first.t.apiKey, VBS_PROGRESS_INTERVAL_S: '0' })
    const [, id] = await run.printed(/(batch_\w+) in_progress · chunk/)
    await first.t.stop()
    services.untrack(first.t)
    // The same data dir again (a new port, found again in service.json): the job resumes and completes.
    const second = await services.boot({ FAKE_VLLM_LATENCY_MS: '10' }, {}, dataDir)
    expect(await run.exited).toBe(0)
    expect(run.stdout()).toContain(`${id} completed: 15 ok, 0 failed of 15`)
    await eventually(async () => (await second.t.client.batches.retrieve(id)).status === 'completed', 'the batch completed')
  })
})
