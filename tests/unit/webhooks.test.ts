// Webhooks' pure parts: signing against the Standard Webhooks spec's published test vector, the URL rules, the
// secret setting; and migration 0008 (the outbox) on a database of the previous version.
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { signWebhook, webhookHeaders } from '../../main/webhooks/signature'
import { webhookUrlProblem } from '../../main/webhooks/url-rules'
import { loadSettings } from '../../main/config/settings'
import { migrate, openDatabase } from '../../main/store/database'
import { migrations } from '../../main/store/migrations'
import { tempDir } from '../helpers/service'

describe('Standard Webhooks signature', () => {
  it('reproduces the spec\'s test vector exactly', () => {
    expect(signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=')
    expect(webhookHeaders('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toEqual({
      'content-type': 'application/json',
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    })
  })

  it('VBS_WEBHOOK_SECRET must be whsec_ and the base64 of 24 to 64 bytes', () => {
    const dir = tempDir()
    expect(loadSettings({ VBS_DATA_DIR: dir, VBS_WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }).webhookSecret).toBe('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')
    expect(() => loadSettings({ VBS_DATA_DIR: dir, VBS_WEBHOOK_SECRET: 'hunter2' })).toThrow('VBS_WEBHOOK_SECRET must be a Standard Webhooks secret')
    expect(() => loadSettings({ VBS_DATA_DIR: dir, VBS_WEBHOOK_SECRET: 'whsec_c2hvcnQ=' })).toThrow('24 to 64 random bytes')
  })
})

describe('webhook URL rules', () => {
  const self = { port: 4080, hosts: new Set(['workstation', '192.168.1.5']) }
  it('http(s) only, no credentials, LAN and loopback addresses allowed, never this service', () => {
    expect(webhookUrlProblem('http://192.168.1.20:8000/hook', self)).toBeNull()
    expect(webhookUrlProblem('http://127.0.0.1:9000/hook', self)).toBeNull()
    expect(webhookUrlProblem('https://hooks.example.com/x', self)).toBeNull()
    expect(webhookUrlProblem('http://workstation:9000/x', self)).toBeNull()
    expect(webhookUrlProblem('file:///etc/passwd', self)).toBe('a webhook URL must be http or https, got file')
    expect(webhookUrlProblem('http://u:p@host/x', self)).toBe('a webhook URL may not carry a user name or password')
    for (const own of ['http://127.0.0.1:4080/x', 'http://localhost:4080/', 'http://[::1]:4080/', 'http://workstation:4080/v1', 'http://192.168.1.5:4080/', 'http://0.0.0.0:4080/']) {
      expect(webhookUrlProblem(own, self)).toMatch(/is this service itself/)
    }
  })
})

describe('migration 0008 (webhooks)', () => {
  it('adds the endpoints and the outbox to a database of the version before, keeping its batches', () => {
    const file = path.join(tempDir(), 'vbs.sqlite')
    const raw = new BetterSqlite3(file)
    migrate(raw, file, migrations.slice(0, 7))
    raw.prepare("INSERT INTO files (id, bytes, created_at, filename, purpose, line_count) VALUES ('file-a', 1, 0, 'a.jsonl', 'batch', 1)").run()
    raw.close()
    const db = openDatabase(file)
    expect(db.pragma('user_version', { simple: true })).toBe(8)
    expect(db.prepare("SELECT id FROM files").all()).toEqual([{ id: 'file-a' }])
    db.prepare("INSERT INTO webhook_deliveries (id, event, batch_id, url, payload, state, created_at, window_start) VALUES ('msg_1', 'batch.completed', 'batch_1', 'http://x', '{}', 'pending', 1, 1)").run()
    expect(() => db.prepare("INSERT INTO webhook_deliveries (id, event, batch_id, url, payload, state, created_at, window_start) VALUES ('msg_2', 'e', 'b', 'u', '{}', 'lost', 1, 1)").run()).toThrow(/CHECK/)
    expect(db.prepare('SELECT COUNT(*) AS n FROM webhook_endpoints').get()).toEqual({ n: 0 })
    db.close()
  })
})
