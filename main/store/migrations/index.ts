import type { Database } from 'better-sqlite3'
import { migration0001 } from './0001-initial'
import { migration0002 } from './0002-progress'
import { migration0003 } from './0003-validation-attempts'
import { migration0004 } from './0004-hold'
import { migration0005 } from './0005-results-search'
import { migration0006 } from './0006-comparisons'
import { migration0007 } from './0007-priority'
import { migration0008 } from './0008-webhooks'

export interface Migration {
  version: number
  name: string
  up: (db: Database) => void
}

/** Every migration, in order; a migration's version is its position (1-based). */
export const migrations: readonly Migration[] = [migration0001, migration0002, migration0003, migration0004, migration0005, migration0006, migration0007, migration0008]
