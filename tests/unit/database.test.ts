import fs from 'node:fs'
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { DatabaseVersionError, openDatabase } from '../../main/store/database'
import { migrations } from '../../main/store/migrations'
import type { Migration } from '../../main/store/migrations'
import { tempDir } from '../helpers/service'
import { answerHashes } from '../../main/store/answer-hash'

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
    raw.exec("CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('the user''s data')")
    raw.pragma(`user_version = ${migrations.length + 5}`)
    raw.close()
    const before = fs.readFileSync(file)
    expect(() => openDatabase(file)).toThrow(DatabaseVersionError)
    expect(() => openDatabase(file)).toThrow(/written by a newer version of vLLM Batch Server/)
    // Untouched: the same bytes, no table of ours added, the user's rows there.
    expect(fs.readFileSync(file).equals(before)).toBe(true)
    const again = new BetterSqlite3(file, { readonly: true })
    expect(again.pragma('user_version', { simple: true })).toBe(migrations.length + 5)
    expect((again.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name)).toEqual(['kept'])
    expect(again.prepare('SELECT v FROM kept').all()).toEqual([{ v: "the user's data" }])
    again.close()
  })

  it('refuses a newer database before switching it to WAL: same bytes, still in its rollback journal, no -wal file', () => {
    const dir = tempDir()
    const file = path.join(dir, 'db.sqlite')
    const raw = new BetterSqlite3(file)
    expect(raw.pragma('journal_mode', { simple: true })).toBe('delete')
    raw.exec('CREATE TABLE from_the_future (x INTEGER); INSERT INTO from_the_future VALUES (42)')
    raw.pragma('user_version = 99')
    raw.close()
    const before = fs.readFileSync(file)
    expect(() => openDatabase(file)).toThrow(DatabaseVersionError)
    expect(() => openDatabase(file)).toThrow(`${file} was written by a newer version of vLLM Batch Server (schema 99; this version knows up to ${migrations.length})`)
    expect(fs.readFileSync(file).equals(before)).toBe(true)
    expect(fs.readdirSync(dir)).toEqual(['db.sqlite'])
    const again = new BetterSqlite3(file, { readonly: true })
    expect(again.pragma('journal_mode', { simple: true })).toBe('delete')
    expect(again.prepare('SELECT x FROM from_the_future').get()).toEqual({ x: 42 })
    again.close()
  })

  it('0002 adds progress, null for batches already stored, and the column takes a job\'s live progress', () => {
    const file = path.join(tempDir(), 'db.sqlite')
    openDatabase(file, migrations.slice(0, 1)).close()
    const v1 = new BetterSqlite3(file)
    expect((v1.prepare("SELECT name FROM pragma_table_info('batches')").all() as { name: string }[]).map((c) => c.name)).not.toContain('progress')
    v1.prepare(
      "INSERT INTO batches (id, endpoint, input_file_id, completion_window, status, created_at, expires_at) VALUES ('batch_v1', '/v1/chat/completions', 'file-x', '24h', 'in_progress', 1, 2)",
    ).run()
    v1.close()
    const db = openDatabase(file, migrations.slice(0, 2))
    expect(db.pragma('user_version', { simple: true })).toBe(2)
    expect(db.prepare("SELECT progress FROM batches WHERE id = 'batch_v1'").get()).toEqual({ progress: null })
    db.prepare("UPDATE batches SET progress = ? WHERE id = 'batch_v1'").run(JSON.stringify({ chunk: 1, waiting: null }))
    expect(JSON.parse((db.prepare("SELECT progress FROM batches WHERE id = 'batch_v1'").get() as { progress: string }).progress)).toEqual({ chunk: 1, waiting: null })
    db.close()
  })

  it('0003 adds validation_attempts, 0 for batches already stored', () => {
    const file = path.join(tempDir(), 'db.sqlite')
    openDatabase(file, migrations.slice(0, 2)).close()
    const v2 = new BetterSqlite3(file)
    v2.prepare(
      "INSERT INTO batches (id, endpoint, input_file_id, completion_window, status, created_at, expires_at) VALUES ('batch_old', '/v1/chat/completions', 'file-x', '24h', 'validating', 1, 2)",
    ).run()
    v2.close()
    const db = openDatabase(file, migrations.slice(0, 3))
    expect(db.pragma('user_version', { simple: true })).toBe(3)
    expect(db.prepare("SELECT validation_attempts FROM batches WHERE id = 'batch_old'").get()).toEqual({ validation_attempts: 0 })
    db.close()
  })

  it('0004 adds hold, drops the free-text holds of older versions and keeps what a finalizing batch is busy with', () => {
    const file = path.join(tempDir(), 'db.sqlite')
    openDatabase(file, migrations.slice(0, 3)).close()
    const v3 = new BetterSqlite3(file)
    const insert = v3.prepare(
      "INSERT INTO batches (id, endpoint, input_file_id, completion_window, status, created_at, expires_at, status_detail, progress) VALUES (?, '/v1/chat/completions', 'file-x', '24h', ?, 1, 2, ?, ?)",
    )
    insert.run('batch_held', 'in_progress', 'paused: paused by the user', JSON.stringify({ chunk: 2, chunks: 4, waiting: 'paused: paused by the user' }))
    insert.run('batch_final', 'finalizing', 'writing the output files', null)
    v3.close()
    const db = openDatabase(file, migrations.slice(0, 4))
    expect(db.pragma('user_version', { simple: true })).toBe(4)
    const row = (id: string): unknown => db.prepare('SELECT status_detail, hold, progress FROM batches WHERE id = ?').get(id)
    expect(row('batch_held')).toEqual({ status_detail: null, hold: null, progress: expect.any(String) })
    expect(JSON.parse((row('batch_held') as { progress: string }).progress)).toEqual({ chunk: 2, chunks: 4, hold: null })
    expect(row('batch_final')).toEqual({ status_detail: 'writing the output files', hold: null, progress: null })
    db.close()
  })

  it('0005 adds the results search: previews and finish reasons of stored results on their requests, their answers searchable', () => {
    const file = path.join(tempDir(), 'db.sqlite')
    openDatabase(file, migrations.slice(0, 4)).close()
    const v4 = new BetterSqlite3(file)
    v4.prepare(
      "INSERT INTO batches (seq, id, endpoint, input_file_id, completion_window, status, created_at, expires_at) VALUES (3, 'batch_old', '/v1/chat/completions', 'file-x', '24h', 'completed', 1, 2)",
    ).run()
    for (const line of [1, 2, 3, 4]) v4.prepare("INSERT INTO requests (batch_seq, line, custom_id, offset, length) VALUES (3, ?, ?, 0, 1)").run(line, `r${line}`)
    const result = v4.prepare('INSERT INTO results (batch_seq, line, status_code, body, error_message, finished_at) VALUES (3, ?, ?, ?, ?, 1)')
    result.run(1, 200, JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'A pear is a fruit.' }, finish_reason: 'length' }] }), null)
    result.run(2, 400, JSON.stringify({ error: { message: 'messages: Field required' } }), null)
    result.run(3, null, null, 'failed after 3 attempts')
    v4.close()
    const db = openDatabase(file, migrations.slice(0, 5))
    expect(db.pragma('user_version', { simple: true })).toBe(5)
    // On the narrow requests rows; line 4 has no result yet (pending).
    expect(db.prepare('SELECT line, preview, finish_reason FROM requests ORDER BY line').all()).toEqual([
      { line: 1, preview: 'A pear is a fruit.', finish_reason: 'length' },
      { line: 2, preview: 'messages: Field required', finish_reason: null },
      { line: 3, preview: 'failed after 3 attempts', finish_reason: null },
      { line: 4, preview: null, finish_reason: null },
    ])
    expect(db.prepare("SELECT rowid FROM result_search WHERE result_search MATCH 'pear'").all()).toEqual([{ rowid: 3 * 2 ** 24 + 1 }])
    // The digests the comparisons match answers by: the same as a result committed now would get.
    expect(db.prepare('SELECT answer_hash, normalized_hash FROM requests ORDER BY line').all()).toEqual([
      { answer_hash: answerHashes('A pear is a fruit.').exact, normalized_hash: answerHashes('a pear is a fruit').normalized },
      { answer_hash: null, normalized_hash: null },
      { answer_hash: null, normalized_hash: null },
      { answer_hash: null, normalized_hash: null },
    ])
    db.close()
  })

  it('0007 adds priority: normal for batches already stored, unless their metadata asked for high or low', () => {
    const file = path.join(tempDir(), 'db.sqlite')
    openDatabase(file, migrations.slice(0, 6)).close()
    const v6 = new BetterSqlite3(file)
    const insert = v6.prepare(
      "INSERT INTO batches (id, endpoint, input_file_id, completion_window, status, created_at, expires_at, metadata) VALUES (?, '/v1/chat/completions', 'file-x', '24h', 'in_progress', 1, 2, ?)",
    )
    insert.run('batch_plain', null)
    insert.run('batch_high', JSON.stringify({ priority: 'high', owner: 'ana' }))
    insert.run('batch_low', JSON.stringify({ priority: 'low' }))
    insert.run('batch_odd', JSON.stringify({ priority: 'urgent' }))
    insert.run('batch_text', 'not json')
    v6.close()
    const db = openDatabase(file, migrations.slice(0, 7))
    expect(db.pragma('user_version', { simple: true })).toBe(7)
    const rows = db.prepare('SELECT id, priority FROM batches ORDER BY id').all()
    expect(rows).toEqual([
      { id: 'batch_high', priority: 'high' },
      { id: 'batch_low', priority: 'low' },
      { id: 'batch_odd', priority: 'normal' },
      { id: 'batch_plain', priority: 'normal' },
      { id: 'batch_text', priority: 'normal' },
    ])
    db.close()
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
