import fs from 'node:fs'
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { listDir, startService, tempDir, TEST_MODELS } from '../helpers/service'
import { spawnServe } from '../helpers/child-service'
import { databasePath } from '../../main/store'

describe('settings and database at start', () => {
  it('refuses to start with a settings.json that does not parse, naming the file and the error, and leaves it as it was', async () => {
    const dataDir = tempDir()
    const file = path.join(dataDir, 'settings.json')
    // A comma forgotten while editing by hand.
    const broken = '{\n  "port": 4090\n  "chunkSize": 10\n}\n'
    fs.writeFileSync(file, broken)
    const s = spawnServe({ VBS_DATA_DIR: dataDir, VBS_MODELS: TEST_MODELS })
    await expect(s.ready).rejects.toThrow()
    expect(await s.exited).toEqual({ code: 1, signal: null })
    expect(s.output()).toContain(`vllm-batch-server: cannot start: ${file} is not valid JSON: `)
    expect(s.output()).toMatch(/after property value in JSON at position \d+ \(line 3,? column 3\)/)
    expect(s.output()).toContain('Fix the file or remove it')
    expect(fs.readFileSync(file, 'utf8')).toBe(broken)
    // Refused before anything was made: no key, no database.
    expect(listDir(dataDir)).toEqual(['settings.json'])
  })

  it('refuses to start with a database from a newer version and leaves it exactly as it was, not switched to WAL', async () => {
    const dataDir = tempDir()
    const file = databasePath(dataDir)
    const raw = new BetterSqlite3(file)
    raw.exec("CREATE TABLE from_the_future (x TEXT); INSERT INTO from_the_future VALUES ('kept')")
    raw.pragma('user_version = 99')
    raw.close()
    const before = fs.readFileSync(file)
    const s = spawnServe({ VBS_DATA_DIR: dataDir, VBS_MODELS: TEST_MODELS })
    await expect(s.ready).rejects.toThrow()
    expect(await s.exited).toEqual({ code: 1, signal: null })
    expect(s.output()).toContain(`vllm-batch-server: cannot start: ${file} was written by a newer version of vLLM Batch Server (schema 99;`)
    expect(fs.readFileSync(file).equals(before)).toBe(true)
    expect(listDir(dataDir).filter((f) => f.startsWith('vbs.sqlite'))).toEqual(['vbs.sqlite'])
    const db = new BetterSqlite3(file, { readonly: true })
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('delete')
      expect(db.prepare('SELECT x FROM from_the_future').get()).toEqual({ x: 'kept' })
    } finally {
      db.close()
    }
  })

  it('a settings.json broken while the service runs is never overwritten by a save, nor shown as the defaults', async () => {
    const t = await startService()
    try {
      const file = path.join(t.dataDir, 'settings.json')
      const put = (body: unknown): Promise<Response> =>
        t.api('/api/settings', { method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
      expect((await put({ chunk_size: 1000 })).status).toBe(200)
      // The user is editing it by hand, half done.
      const halfEdited = '{\n  "chunkSize": 1000,\n  "thermalPauseC": \n'
      fs.writeFileSync(file, halfEdited)

      const saved = await put({ chunk_size: 2000 })
      expect(saved.status).toBeGreaterThanOrEqual(400)
      const error = ((await saved.json()) as { error: { message: string } }).error
      expect(error.message).toContain(`${file} is not valid JSON`)
      expect(fs.readFileSync(file, 'utf8')).toBe(halfEdited)
      expect(t.service.settings.chunkSize).toBe(1000)

      const shown = await t.api('/api/settings')
      expect(shown.status).not.toBe(200)
      expect(fs.readFileSync(file, 'utf8')).toBe(halfEdited)
      expect(listDir(t.dataDir).filter((f) => f.startsWith('settings.json'))).toEqual(['settings.json'])
    } finally {
      await t.stop()
    }
  })
})
