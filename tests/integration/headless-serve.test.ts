import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import OpenAI, { toFile } from 'openai'
import { jsonl, listDir, tempDir, TEST_MODELS, waitForBatch } from '../helpers/service'
import { readKey, spawnServe } from '../helpers/child-service'
import { openStore } from '../../main/store'

describe('npm run serve (headless, a real child process)', () => {
  it('prints the URL and where the key is kept, serves the API, and stops cleanly on SIGTERM and SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const dataDir = tempDir()
      const s = spawnServe({ VBS_DATA_DIR: dataDir })
      const url = await s.ready
      expect(s.output()).toContain(`API key: kept in ${path.join(dataDir, 'api-key')}`)
      expect(fs.statSync(path.join(dataDir, 'api-key')).mode & 0o777).toBe(0o600)
      expect(fs.existsSync(path.join(dataDir, 'models.yaml'))).toBe(true)

      const health = await fetch(`${url}/health`)
      expect(health.status).toBe(200)
      expect(health.headers.get('x-request-id')).toBeTruthy()
      const client = new OpenAI({ apiKey: readKey(dataDir), baseURL: `${url}/v1`, maxRetries: 0 })
      const file = await client.files.create({ file: await toFile(Buffer.from(jsonl(3, 'h')), 'h.jsonl'), purpose: 'batch' })
      expect(file.bytes).toBeGreaterThan(0)
      const wrong = new OpenAI({ apiKey: 'wrong', baseURL: `${url}/v1`, maxRetries: 0 })
      const e = (await wrong.files.list().catch((err: unknown) => err)) as InstanceType<typeof OpenAI.AuthenticationError>
      expect(e).toBeInstanceOf(OpenAI.AuthenticationError)
      expect(e.error).toMatchObject({ code: 'invalid_api_key', type: 'invalid_request_error', param: null })
      const none = await fetch(`${url}/v1/files`)
      expect(none.status).toBe(401)
      expect(((await none.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key')

      s.child.kill(signal)
      expect(await s.exited).toEqual({ code: 0, signal: null })
      expect(s.output()).toContain('stopped')
    }
  })

  it('refuses to start with a broken models.yaml, naming the line and field', async () => {
    const dir = tempDir()
    const models = path.join(dir, 'models.yaml')
    fs.writeFileSync(models, 'models:\n  - id: m1\n    modle: org/m1\n')
    const s = spawnServe({ VBS_DATA_DIR: dir, VBS_MODELS: models })
    await expect(s.ready).rejects.toThrow()
    expect((await s.exited).code).toBe(1)
    expect(s.output()).toContain('line 3: models[0].modle is not a known field')
    expect(s.output()).toContain('line 2: models[0].model is required')
  })

  it('refuses to start with a bad setting, naming it', async () => {
    const s = spawnServe({ VBS_DATA_DIR: tempDir(), VBS_MAX_FILE_BYTES: 'lots' })
    await expect(s.ready).rejects.toThrow()
    expect((await s.exited).code).toBe(1)
    expect(s.output()).toContain('VBS_MAX_FILE_BYTES must be a whole number')
  })

  it('after kill -9 during validation, a restart validates the batch again and clears half-written uploads', async () => {
    const dataDir = tempDir()
    const env = { VBS_DATA_DIR: dataDir, VBS_MODELS: TEST_MODELS }
    const first = spawnServe(env)
    const url = await first.ready
    const client = new OpenAI({ apiKey: readKey(dataDir), baseURL: `${url}/v1`, maxRetries: 0 })
    const lines = 60_000
    const file = await client.files.create({ file: await toFile(Buffer.from(jsonl(lines, 'k')), 'k.jsonl'), purpose: 'batch' })
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    first.child.kill('SIGKILL')
    expect((await first.exited).signal).toBe('SIGKILL')

    // What a crash mid-upload leaves behind: a partial temp file, and bytes renamed into place without a row.
    fs.writeFileSync(path.join(dataDir, 'files', '.tmp', 'abc.part'), 'half')
    fs.writeFileSync(path.join(dataDir, 'files', 'file-OrphanWithoutAnyRow0001'), 'orphan')

    const second = spawnServe(env)
    const url2 = await second.ready
    const client2 = new OpenAI({ apiKey: readKey(dataDir), baseURL: `${url2}/v1`, maxRetries: 0 })
    const done = await waitForBatch(client2, batch.id, ['validating'], 90_000)
    expect(done.status).toBe('in_progress')
    expect(done.request_counts?.total).toBe(lines)
    expect(listDir(path.join(dataDir, 'files', '.tmp'))).toEqual([])
    expect(listDir(path.join(dataDir, 'files')).sort()).toEqual(['.tmp', file.id].sort())
    second.child.kill('SIGTERM')
    expect((await second.exited).code).toBe(0)

    const store = openStore(dataDir)
    try {
      const counts = store.db
        .prepare('SELECT COUNT(*) AS n, COUNT(DISTINCT custom_id) AS ids, MIN(line) AS lo, MAX(line) AS hi FROM requests WHERE batch_seq = (SELECT seq FROM batches WHERE id = ?)')
        .get(batch.id)
      expect(counts).toEqual({ n: lines, ids: lines, lo: 1, hi: lines })
    } finally {
      store.close()
    }
  })
})
