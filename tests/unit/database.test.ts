import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { DatabaseVersionError, openDatabase } from '../../main/store/database'
import { migrations } from '../../main/store/migrations'
import type { Migration } from '../../main/store/migrations'
import { tempDir } from '../helpers/service'

describe('database', () => {
  it('opens in WAL mode with every migration applied and user_version set', () => {
    const file = path.join(tempDir(), 'db.sqlite')
    const db = openDatabase(file)
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.pragma('user_version', { simple: true })).toBe(migrations.length)
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name)
    expect(tables).toEqual(expect.arrayContaining(['batches', 'dead_letters', 'files', 'requests', 'results']))
    db.close()
    // Opening again runs nothing twice.
    openDatabase(file).close()
  })

  it('refuses a database written by a newer version, with a clear message, and leaves it untouched', () => {
    const file = path.join(tempDir(), 'db.sqlite')
    const raw = new BetterSqlite3(file)
    raw.pragma(`user_version = ${migrations.length + 5}`)
    raw.close()
    expect(() => openDatabase(file)).toThrow(DatabaseVersionError)
    expect(() => openDatabase(file)).toThrow(/written by a newer version of vLLM Batch Server/)
    const again = new BetterSqlite3(file)
    expect(again.pragma('user_version', { simple: true })).toBe(migrations.length + 5)
    again.close()
  })

  it('runs a migration in one transaction: a failing one leaves neither its tables nor a new user_version', () => {
    const file = path.join(tempDir(), 'db.sqlite')
    const broken: Migration = {
      version: migrations.length + 1,
      name: 'broken',
      up: (db) => {
        db.exec('CREATE TABLE half_done (x INTEGER)')
        db.exec('THIS IS NOT SQL')
      },
    }
    expect(() => openDatabase(file, [...migrations, broken])).toThrow()
    const db = new BetterSqlite3(file)
    expect(db.pragma('user_version', { simple: true })).toBe(migrations.length)
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half_done'").get()).toBeUndefined()
    db.close()
  })
})
