import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { defaultDataDir, loadSettings, SettingsError, warmPoolBudgetGb } from '../../main/config/settings'
import { readSettingsFile, updateSettingsFile } from '../../main/config/settings-file'
import { loadApiKey } from '../../main/config/api-key'
import { tempDir } from '../helpers/service'

describe('settings', () => {
  it('uses defaults, then settings.json, then the environment', () => {
    const dataDir = tempDir()
    expect(loadSettings({ VBS_DATA_DIR: dataDir })).toMatchObject({
      dataDir,
      host: '0.0.0.0',
      port: 4080,
      maxFileBytes: 512 * 1024 * 1024,
      maxRequestsPerBatch: 200_000,
      maxActiveBatches: 10,
      maxQueuedRequests: 1_000_000,
    })
    fs.writeFileSync(path.join(dataDir, 'settings.json'), JSON.stringify({ port: 5000, host: '127.0.0.1', maxActiveBatches: 3 }))
    expect(loadSettings({ VBS_DATA_DIR: dataDir })).toMatchObject({ port: 5000, host: '127.0.0.1', maxActiveBatches: 3 })
    expect(loadSettings({ VBS_DATA_DIR: dataDir, VBS_PORT: '6000', VBS_MAX_FILE_BYTES: '1024' })).toMatchObject({
      port: 6000,
      host: '127.0.0.1',
      maxFileBytes: 1024,
      maxActiveBatches: 3,
    })
  })

  it('defaults the data dir to $XDG_DATA_HOME/vllm-batch-server, else ~/.local/share/vllm-batch-server', () => {
    expect(defaultDataDir({ XDG_DATA_HOME: '/srv/xdg' })).toBe('/srv/xdg/vllm-batch-server')
    expect(defaultDataDir({})).toBe(path.join(os.homedir(), '.local', 'share', 'vllm-batch-server'))
  })

  it('names the variable or the file key that is wrong', () => {
    const dataDir = tempDir()
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir, VBS_PORT: 'eighty' })).toThrow(/VBS_PORT must be a whole number/)
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir, VBS_PORT: '70000' })).toThrow(/VBS_PORT must be a port number/)
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir, VBS_MAX_ACTIVE_BATCHES: '0' })).toThrow(/VBS_MAX_ACTIVE_BATCHES/)
    fs.writeFileSync(path.join(dataDir, 'settings.json'), JSON.stringify({ prot: 1 }))
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir })).toThrow(SettingsError)
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir })).toThrow(/unknown setting "prot"/)
    fs.writeFileSync(path.join(dataDir, 'settings.json'), '{ not json')
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir })).toThrow(/settings.json is not valid JSON/)
    fs.writeFileSync(path.join(dataDir, 'settings.json'), JSON.stringify({ port: '4081x' }))
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir })).toThrow(/"port" must be a whole number/)
  })

  it('refuses values outside safe ranges: low ports, a GPU limit past 95 °C, huge chunks', () => {
    const dataDir = tempDir()
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir, VBS_PORT: '80' })).toThrow(/VBS_PORT must be a port number 1024-65535, got 80/)
    expect(loadSettings({ VBS_DATA_DIR: dataDir, VBS_PORT: '1024' }).port).toBe(1024)
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir, VBS_THERMAL_PAUSE_C: '110' })).toThrow(/VBS_THERMAL_PAUSE_C must be at most 95, got 110/)
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir, VBS_CHUNK_SIZE: '5000000' })).toThrow(/VBS_CHUNK_SIZE must be at most 100000/)
  })

  it('VBS_WARM_POOL_GB: GiB of host RAM for sleeping models, 0 for none, half the free RAM at start by default', () => {
    const dataDir = tempDir()
    const GiB = 1024 ** 3
    const unset = loadSettings({ VBS_DATA_DIR: dataDir })
    expect(unset.warmPoolGb).toBeNull()
    expect(warmPoolBudgetGb(unset, 24 * GiB)).toBe(12)
    expect(warmPoolBudgetGb(loadSettings({ VBS_DATA_DIR: dataDir, VBS_WARM_POOL_GB: 'auto' }), 9 * GiB)).toBe(4.5)
    expect(warmPoolBudgetGb(loadSettings({ VBS_DATA_DIR: dataDir, VBS_WARM_POOL_GB: '20.5' }), 24 * GiB)).toBe(20.5)
    expect(warmPoolBudgetGb(loadSettings({ VBS_DATA_DIR: dataDir, VBS_WARM_POOL_GB: '0' }), 24 * GiB)).toBe(0)
    for (const bad of ['-1', 'lots', '1e9', '10GB']) {
      expect(() => loadSettings({ VBS_DATA_DIR: dataDir, VBS_WARM_POOL_GB: bad })).toThrow(/^VBS_WARM_POOL_GB must be the GiB of host RAM sleeping models may hold, a number from 0 .* or "auto"/)
    }
    fs.writeFileSync(path.join(dataDir, 'settings.json'), JSON.stringify({ warmPoolGb: 8 }))
    expect(loadSettings({ VBS_DATA_DIR: dataDir }).warmPoolGb).toBe(8)
    fs.writeFileSync(path.join(dataDir, 'settings.json'), JSON.stringify({ warmPoolGb: true }))
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir })).toThrow(/"warmPoolGb" must be the GiB of host RAM/)
  })

  it('refuses keys from the environment shorter than 32 characters, naming the variable', () => {
    const dataDir = tempDir()
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir, VBS_API_KEY: 'short-key' })).toThrow(/VBS_API_KEY is too short: a key must be at least 32 characters \(it has 9\)/)
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir, VBS_ADMIN_KEY: 'x'.repeat(31) })).toThrow(/VBS_ADMIN_KEY is too short/)
    const long = 'k'.repeat(32)
    expect(loadSettings({ VBS_DATA_DIR: dataDir, VBS_API_KEY: ` ${long}\n`, VBS_ADMIN_KEY: long })).toMatchObject({ apiKey: long, adminKey: long })
  })
})

describe('settings.json that does not parse', () => {
  const broken = '{\n  "port": 5000,\n  "chunkSize": 100,,\n}\n'

  it('is refused at start, naming the file, the parse error and where it is', () => {
    const dataDir = tempDir()
    const file = path.join(dataDir, 'settings.json')
    fs.writeFileSync(file, broken)
    expect(() => loadSettings({ VBS_DATA_DIR: dataDir })).toThrow(SettingsError)
    const message = (() => {
      try {
        loadSettings({ VBS_DATA_DIR: dataDir })
        return ''
      } catch (err) {
        return (err as Error).message
      }
    })()
    expect(message).toContain(`${file} is not valid JSON: `)
    expect(message).toMatch(/line 3,? column 20/)
    expect(fs.readFileSync(file, 'utf8')).toBe(broken)
  })

  it('is never overwritten by a save: the save throws naming the file and the file keeps its bytes', () => {
    for (const content of [broken, '', '[1, 2]', 'null']) {
      const dataDir = tempDir()
      const file = path.join(dataDir, 'settings.json')
      fs.writeFileSync(file, content)
      expect(() => readSettingsFile(dataDir)).toThrow(SettingsError)
      expect(() => updateSettingsFile(dataDir, {}, { chunkSize: 10 })).toThrow(SettingsError)
      expect(() => updateSettingsFile(dataDir, {}, { chunkSize: 10 })).toThrow(file)
      expect(fs.readFileSync(file, 'utf8')).toBe(content)
      expect(fs.readdirSync(dataDir)).toEqual(['settings.json'])
    }
  })

  it('a missing file is no settings: a save creates it, and a later save keeps what it holds', () => {
    const dataDir = tempDir()
    const file = path.join(dataDir, 'settings.json')
    expect(readSettingsFile(dataDir)).toEqual({})
    expect(updateSettingsFile(dataDir, {}, { chunkSize: 10 }).chunkSize).toBe(10)
    expect(updateSettingsFile(dataDir, {}, { thermalPauseC: 80 })).toMatchObject({ chunkSize: 10, thermalPauseC: 80 })
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ chunkSize: 10, thermalPauseC: 80 })
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    expect(fs.readdirSync(dataDir)).toEqual(['settings.json'])
  })

  it('reads a file an editor saved with a byte-order mark', () => {
    const dataDir = tempDir()
    fs.writeFileSync(path.join(dataDir, 'settings.json'), '\uFEFF{"chunkSize": 7}')
    expect(loadSettings({ VBS_DATA_DIR: dataDir }).chunkSize).toBe(7)
  })
})

describe('API key', () => {
  it('is generated on first run into the data dir with mode 0600, then reused', () => {
    const dataDir = tempDir()
    const first = loadApiKey(dataDir, null)
    expect(first.origin).toBe(path.join(dataDir, 'api-key'))
    expect(first.key).toMatch(/^vbs-[A-Za-z0-9_-]{32}$/)
    expect(fs.statSync(first.origin).mode & 0o777).toBe(0o600)
    expect(loadApiKey(dataDir, null).key).toBe(first.key)
  })

  it('comes from VBS_API_KEY when set, and no key file is written', () => {
    const dataDir = tempDir()
    expect(loadApiKey(dataDir, 'from-env')).toEqual({ key: 'from-env', origin: 'the VBS_API_KEY environment variable' })
    expect(fs.existsSync(path.join(dataDir, 'api-key'))).toBe(false)
  })
})
