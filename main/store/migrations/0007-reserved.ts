import type { Migration } from './index'

/**
 * A placeholder: migration 7 is being written on another branch (issue 12) at the same time as the webhooks'
 * migration 8; whoever merges second puts the real 0007 here and drops this file. Numbers must stay contiguous
 * (see database.ts), so this keeps 0008 runnable meanwhile. It changes nothing.
 */
export const migration0007: Migration = {
  version: 7,
  name: 'reserved',
  up: () => undefined,
}
