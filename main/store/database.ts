import fs from 'node:fs'
import path from 'node:path'
import BetterSqlite3, { type Database } from 'better-sqlite3'
import { migrations as allMigrations, type Migration } from './migrations'

export class DatabaseVersionError extends Error {
  constructor(file: string, found: number, known: number) {
    super(
      `${file} was written by a newer version of vLLM Batch Server (schema ${found}; this version knows up to ${known}). ` +
        'Install the newer version again, or point VBS_DATA_DIR at another folder.',
    )
    this.name = 'DatabaseVersionError'
  }
}

/** The settings of every connection to the database (the index writer's thread opens one of its own). */
export const CONNECTION_PRAGMAS: readonly string[] = ['busy_timeout = 5000', 'foreign_keys = ON']
/** Pages (4 KiB) the WAL may hold during a bulk write before it is checkpointed (Store.bulkWrite, the index writer). */
export const BULK_CHECKPOINT_PAGES = 16_384
/** Set on every connection once the database is in WAL mode. */
export const DURABILITY_PRAGMA = 'synchronous = NORMAL'

/**
 * Opens (creating if needed) the database in WAL mode and brings its schema up to date. The schema version is
 * read before anything that writes: a database from a newer version is refused exactly as it was found (still
 * in its own journal mode, no -wal file), so that version can open it again.
 */
export function openDatabase(file: string, migrations: readonly Migration[] = allMigrations): Database {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const db = new BetterSqlite3(file)
  try {
    // Connection settings only: neither writes to the file.
    for (const p of CONNECTION_PRAGMAS) db.pragma(p)
    checkVersion(db, file, migrations.length)
    db.pragma('journal_mode = WAL')
    // NORMAL is durable against a crash of the app under WAL (only a power cut can lose the last commits).
    db.pragma(DURABILITY_PRAGMA)
    migrate(db, file, migrations)
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

/** Refuses a database whose schema is newer than this version knows; reading user_version writes nothing. */
function checkVersion(db: Database, file: string, known: number): number {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > known) throw new DatabaseVersionError(file, current, known)
  return current
}

/** Runs every pending migration, each in one transaction that also sets user_version. */
export function migrate(db: Database, file: string, migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name} has version ${m.version}, expected ${i + 1}`)
  })
  const current = checkVersion(db, file, migrations.length)
  for (const m of migrations.slice(current)) {
    db.transaction(() => {
      m.up(db)
      db.pragma(`user_version = ${m.version}`)
    })()
  }
}
