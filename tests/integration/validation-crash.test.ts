import BetterSqlite3 from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import OpenAI, { toFile } from 'openai'
import { jsonl, requestLine, ROOT, startService, tempDir, TEST_MODELS, waitForBatch } from '../helpers/service'
import { readKey } from '../helpers/child-service'
import { serveArgs } from '../helpers/serve-command'
import { spawnReady, type ReadyChild } from '../helpers/spawn-ready'
import { Service } from '../../main/service'
import { databasePath } from '../../main/store'

/** The batch's row as the service left it (read-only: the test never writes the database it checks). */
function stored(dataDir: string, id: string): { status: string; validation_attempts: number } {
  const db = new BetterSqlite3(databasePath(dataDir), { readonly: true })
  try {
    return db.prepare('SELECT status, validation_attempts FROM batches WHERE id = ?').get(id) as { status: string; validation_attempts: number }
  } finally {
    db.close()
  }
}

function setAttempts(dataDir: string, id: string, n: number): void {
  const db = new BetterSqlite3(databasePath(dataDir))
  try {
    db.prepare('UPDATE batches SET validation_attempts = ? WHERE id = ?').run(n, id)
  } finally {
    db.close()
  }
}

/**
 * `npm run serve`'s command as a child, with core dumps off: the crash below is a real V8 heap exhaustion, which
 * aborts the process, and a core of the whole heap would land in the repository.
 */
function serveWithoutCore(env: Record<string, string>): ReadyChild {
  return spawnReady(
    '/bin/sh',
    ['-c', 'ulimit -c 0; exec "$0" "$@"', process.execPath, ...serveArgs()],
    { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', VBS_HOST: '127.0.0.1', VBS_PORT: '0', ...env } },
    { pattern: /\(this machine: (http:\/\/[^)]+)\)/, what: 'the service', timeoutMs: 120_000 },
  )
}

const crashed = (exit: { code: number | null; signal: NodeJS.Signals | null }): boolean => exit.signal !== null || (exit.code !== 0 && exit.code !== null)

describe('a batch whose validation crashed the service twice', () => {
  it('is failed with validation_crashed at the third start instead of taking the service down again', async () => {
    const dataDir = tempDir()
    // The user allows long lines; this one parses into 12 million arrays, far past the 384 MB heap `npm run serve` gives node.
    const env = { VBS_DATA_DIR: dataDir, VBS_MODELS: TEST_MODELS, VBS_MAX_LINE_BYTES: String(128 * 1024 * 1024), VBS_LOG_LEVEL: 'warn' }
    const bomb = `${requestLine('fine')}\n{"custom_id":"huge","method":"POST","url":"/v1/chat/completions","body":{"model":"test-model-a","messages":[${'[],'.repeat(12_000_000)}[]]}}\n`

    const first = serveWithoutCore(env)
    const url = await first.ready
    const client = new OpenAI({ apiKey: readKey(dataDir), baseURL: `${url}/v1`, maxRetries: 0, timeout: 120_000 })
    const file = await client.files.create({ file: await toFile(Buffer.from(bomb), 'bomb.jsonl'), purpose: 'batch' })
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    expect(batch.status).toBe('validating')
    const exit1 = await first.exited
    expect(crashed(exit1), `first run: ${JSON.stringify(exit1)}\n${first.output()}`).toBe(true)
    expect(stored(dataDir, batch.id)).toEqual({ status: 'validating', validation_attempts: 1 })

    // The next start validates it again, and the file takes the service down again (whether or not it got to
    // print that it listens).
    const second = serveWithoutCore(env)
    const exit2 = await second.exited
    expect(crashed(exit2), `second run: ${JSON.stringify(exit2)}\n${second.output()}`).toBe(true)
    expect(stored(dataDir, batch.id)).toEqual({ status: 'validating', validation_attempts: 2 })

    const third = serveWithoutCore(env)
    try {
      const url3 = await third.ready
      const client3 = new OpenAI({ apiKey: readKey(dataDir), baseURL: `${url3}/v1`, maxRetries: 0, timeout: 60_000 })
      const failed = await client3.batches.retrieve(batch.id)
      expect(failed.status).toBe('failed')
      expect(failed.failed_at).not.toBeNull()
      expect(failed.errors?.data).toHaveLength(1)
      expect(failed.errors!.data![0]).toMatchObject({ code: 'validation_crashed', line: null, param: null })
      expect(failed.errors!.data![0].message).toContain('validating this file stopped the service twice')
      // The service keeps serving: a good batch validates.
      const fine = await client3.files.create({ file: await toFile(Buffer.from(jsonl(3)), 'ok.jsonl'), purpose: 'batch' })
      const next = await client3.batches.create({ input_file_id: fine.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
      expect((await waitForBatch(client3, next.id)).status).toBe('in_progress')
      expect((await client3.batches.retrieve(batch.id)).status).toBe('failed')
      expect(third.child.exitCode).toBeNull()
    } finally {
      third.child.kill('SIGTERM')
    }
    expect(await third.exited).toEqual({ code: 0, signal: null })
  }, 600_000)

  it('a validating batch whose validation started twice without ending is failed at start instead of being validated again', async () => {
    const dataDir = tempDir()
    const t = await startService({}, dataDir)
    const file = await t.client.files.create({ file: await toFile(Buffer.from(jsonl(50)), 'in.jsonl'), purpose: 'batch' })
    const once = t.service.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    const twice = t.service.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    await t.service.batches.stop() // before either validation got to a verdict
    await t.stop()
    setAttempts(dataDir, once.id, 1)
    setAttempts(dataDir, twice.id, 2)

    const again = await startService({}, dataDir)
    try {
      const failed = await again.client.batches.retrieve(twice.id)
      expect(failed.status).toBe('failed')
      expect(failed.errors?.data).toEqual([
        {
          code: 'validation_crashed',
          line: null,
          param: null,
          message: expect.stringContaining('validating this file stopped the service twice') as string,
        },
      ])
      expect(again.service.store.requests.countByState(twice.id)).toEqual({})
      // One start without an end is not enough: that batch is validated again, as after any crash.
      const validated = await waitForBatch(again.client, once.id)
      expect(validated.status).toBe('in_progress')
      expect(validated.request_counts?.total).toBe(50)
    } finally {
      await again.stop()
    }
  })

  it('a validation stopped by a clean shutdown does not count: after three of them the batch still validates', async () => {
    const dataDir = tempDir()
    const options = { env: {}, overrides: { dataDir, host: '127.0.0.1', port: 0, apiKey: 'test-key', modelsPath: TEST_MODELS } }
    const t = await startService({}, dataDir)
    const file = await t.client.files.create({ file: await toFile(Buffer.from(jsonl(50)), 'in.jsonl'), purpose: 'batch' })
    const batch = t.service.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    await t.service.batches.stop()
    await t.stop()
    expect(stored(dataDir, batch.id)).toEqual({ status: 'validating', validation_attempts: 0 })
    for (let i = 0; i < 2; i++) {
      // A start that takes the validation up again, then a clean stop before it ends.
      const service = new Service(options)
      service.batches.recover()
      await service.batches.stop()
      await service.stop()
      expect(stored(dataDir, batch.id)).toEqual({ status: 'validating', validation_attempts: 0 })
    }

    const last = await startService({}, dataDir)
    try {
      const done = await waitForBatch(last.client, batch.id)
      expect(done.status).toBe('in_progress')
      expect(done.request_counts?.total).toBe(50)
    } finally {
      await last.stop()
    }
  })
})

describe('validation attempts in the database', () => {
  it('are counted before a validation starts and committed at once', async () => {
    const dataDir = tempDir()
    const t = await startService({}, dataDir)
    try {
      const file = await t.client.files.create({ file: await toFile(Buffer.from(jsonl(5)), 'in.jsonl'), purpose: 'batch' })
      const batch = t.service.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
      // Another connection sees it while the validation has not read a line: a kill -9 now still counts it.
      expect(stored(dataDir, batch.id)).toEqual({ status: 'validating', validation_attempts: 1 })
      expect((await waitForBatch(t.client, batch.id)).status).toBe('in_progress')
    } finally {
      await t.stop()
    }
  })
})
