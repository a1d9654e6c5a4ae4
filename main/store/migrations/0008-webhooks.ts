import type { Migration } from './index'

/**
 * Webhooks: the configured endpoints (with their secrets) and the outbox of deliveries, one row per event and
 * URL, kept until delivered or dead (and then kept for the record).
 */
export const migration0008: Migration = {
  version: 8,
  name: 'webhooks',
  up: (db) => {
    db.exec(`
      CREATE TABLE webhook_endpoints (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        id         TEXT NOT NULL UNIQUE,
        url        TEXT NOT NULL,
        events     TEXT NOT NULL,
        secret     TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE webhook_deliveries (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        id              TEXT NOT NULL UNIQUE,
        event           TEXT NOT NULL,
        batch_id        TEXT NOT NULL,
        url             TEXT NOT NULL,
        endpoint_id     TEXT,
        payload         TEXT NOT NULL,
        state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        created_at      INTEGER NOT NULL,
        window_start    INTEGER NOT NULL,
        delivered_at    INTEGER,
        last_error      TEXT
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
      CREATE INDEX webhook_deliveries_state ON webhook_deliveries (state, seq);
    `)
  },
}
