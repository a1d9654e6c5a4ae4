import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { mediaDomains, NO_MEDIA_DOMAIN, vllmArgv, vllmEnv } from '../../main/engine/vllm-argv'
import { VllmLauncher } from '../../main/engine/vllm-launcher'
import { EngineError } from '../../main/engine/engine-types'
import { loopbackListenersIn } from '../../main/engine/process-group'
import { nextPhase, phaseOfLine } from '../../main/engine/loading-phase'
import { EngineLog } from '../../main/engine/engine-log'
import { findExecutable } from '../../main/engine/find-executable'
import type { ModelEntry } from '../../main/config/models'
import { tempDir } from '../helpers/service'

const entry: ModelEntry = {
  id: 'gemma-3-12b',
  aliases: ['gemma3'],
  engine: 'vllm',
  model: 'RedHatAI/gemma-3-12b-it-quantized.w4a16',
  max_model_len: 8192,
  gpu_memory_utilization: 0.88,
  quantization: 'compressed-tensors',
  dtype: 'bfloat16',
  max_num_seqs: 32,
  extra_args: ['--enforce-eager', '--limit-mm-per-prompt', '{"image": 0}'],
  env: { HF_HOME: '/models/hf' },
}

describe('vllm argv', () => {
  it('builds `vllm serve` for an entry as an argv array, loopback only, priority scheduling', () => {
    expect(vllmArgv(entry, { host: '127.0.0.1', port: 8123, sleepMode: false })).toEqual([
      'serve', 'RedHatAI/gemma-3-12b-it-quantized.w4a16',
      '--host', '127.0.0.1', '--port', '8123',
      '--served-model-name', 'gemma-3-12b',
      '--scheduling-policy', 'priority',
      '--max-model-len', '8192',
      '--gpu-memory-utilization', '0.88',
      '--quantization', 'compressed-tensors',
      '--dtype', 'bfloat16',
      '--max-num-seqs', '32',
      // No media host at all by default: vLLM reads an empty list as "any".
      '--allowed-media-domains', 'media-fetching-disabled.invalid',
      '--enforce-eager', '--limit-mm-per-prompt', '{"image": 0}',
    ])
  })

  it('opens media fetching only to the hosts of the setting (or to any with *), and prompt embeds only per model', () => {
    const plan = { host: '127.0.0.1', port: 1, sleepMode: false }
    const tail = (argv: string[]): string[] => argv.slice(argv.indexOf('--allowed-media-domains'))
    expect(tail(vllmArgv(entry, { ...plan, mediaDomains: [] })).slice(0, 2)).toEqual(['--allowed-media-domains', NO_MEDIA_DOMAIN])
    expect(mediaDomains('')).toEqual([])
    expect(mediaDomains(' Images.Example.com, cdn.example.org ,,images.example.com')).toEqual(['images.example.com', 'cdn.example.org'])
    expect(tail(vllmArgv(entry, { ...plan, mediaDomains: mediaDomains('images.example.com,cdn.example.org') })).slice(0, 4)).toEqual([
      '--allowed-media-domains', 'images.example.com', 'cdn.example.org', '--enforce-eager',
    ])
    expect(mediaDomains('*')).toBeNull()
    expect(vllmArgv(entry, { ...plan, mediaDomains: null })).not.toContain('--allowed-media-domains')
    expect(() => mediaDomains('https://images.example.com/')).toThrow(/'https:\/\/images\.example\.com\/' is not a host name; list host names such as/)
    expect(() => mediaDomains('a.com, 10.0.0.1:8080')).toThrow(/'10\.0\.0\.1:8080' is not a host name/)

    expect(vllmArgv(entry, plan)).not.toContain('--enable-prompt-embeds')
    const embeds = vllmArgv({ ...entry, allow_prompt_embeds: true }, plan)
    expect(embeds.indexOf('--enable-prompt-embeds')).toBeGreaterThan(0)
    expect(embeds.indexOf('--enable-prompt-embeds')).toBeLessThan(embeds.indexOf('--enforce-eager')) // extra_args stay last
  })

  it('keeps shell text inert: a value with ; or $() stays one argument', () => {
    const argv = vllmArgv({ id: 'x', aliases: [], engine: 'vllm', model: 'org/m; rm -rf / $(reboot)' }, { host: '127.0.0.1', port: 1, sleepMode: true })
    expect(argv[1]).toBe('org/m; rm -rf / $(reboot)')
    expect(argv).toContain('--enable-sleep-mode')
  })

  it('gives the engine the entry env, unbuffered output and dev mode for sleep', () => {
    const env = vllmEnv(entry, { host: '127.0.0.1', port: 1, sleepMode: true }, { PATH: '/bin' })
    expect(env).toMatchObject({ PATH: '/bin', HF_HOME: '/models/hf', PYTHONUNBUFFERED: '1', VLLM_SERVER_DEV_MODE: '1' })
  })

  it('gives the engine its launch key by the environment only, no VBS_ secret, the HF token, and no media redirects', () => {
    const key = 'k'.repeat(43)
    const plan = { host: '127.0.0.1', port: 1, sleepMode: false, apiKey: key }
    const base = { PATH: '/bin', VBS_API_KEY: 'client-key', VBS_ADMIN_KEY: 'admin-key', VBS_MODELS: '/m.yaml', HF_TOKEN: 'hf_x', VLLM_API_KEY: 'exported by the user' }
    const env = vllmEnv({ ...entry, env: { VLLM_API_KEY: 'from models.yaml' } }, plan, base)
    expect(env).toMatchObject({ VLLM_API_KEY: key, HF_TOKEN: 'hf_x', VLLM_MEDIA_URL_ALLOW_REDIRECTS: '0', PATH: '/bin' })
    expect(Object.keys(env).filter((k) => k.startsWith('VBS_'))).toEqual([])
    expect(vllmArgv(entry, plan).join(' ')).not.toContain(key)
    // Without a key of ours, none at all: an inherited one would only make vLLM refuse us.
    expect(vllmEnv(entry, { host: '127.0.0.1', port: 1, sleepMode: false }, base).VLLM_API_KEY).toBeUndefined()
  })

  it('refuses extra_args that would set vLLM\'s key, and a media setting that is not host names, before any start', () => {
    const dir = tempDir()
    const bin = path.join(dir, 'vllm')
    fs.writeFileSync(bin, '#!/bin/sh\n', { mode: 0o755 })
    const launcher = new VllmLauncher(bin, { PATH: '' })
    expect(() => launcher.check({ ...entry, extra_args: ['--api-key', 'mine'] })).toThrow(/extra_args must not set --api-key/)
    const err = (() => {
      try {
        new VllmLauncher(bin, { PATH: '' }, { allowedMediaDomains: 'http://x' }).check(entry)
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(EngineError)
    expect(err).toMatchObject({ kind: 'misconfigured' })
    expect(() => new VllmLauncher(bin, { PATH: '' }, { allowedMediaDomains: 'images.example.com' }).check(entry)).not.toThrow()
  })

  it('says vLLM is missing without listing the folders of PATH', () => {
    const launcher = new VllmLauncher('vllm', { PATH: '/home/alice/.secret-tools/bin:/opt/corp/internal/bin:/usr/bin' })
    expect(() => launcher.locate()).toThrow(
      "vLLM not found: 'vllm' is not on PATH (searched 3 folders); install it with `pip install vllm` or set VBS_VLLM_BIN",
    )
    expect(() => new VllmLauncher('/opt/vllm/bin/vllm', { PATH: '/usr/bin' }).locate()).toThrow(
      'vLLM not found: /opt/vllm/bin/vllm does not exist or is not executable; install it with `pip install vllm` or set VBS_VLLM_BIN',
    )
  })
})

describe('loading phase', () => {
  it('follows vLLM start-up lines forward only', () => {
    const lines = [
      'INFO 11-22 10:00:01 [default_loader.py:262] Loading safetensors checkpoint shards: 100% 2/2',
      'INFO 11-22 10:00:09 [backends.py:530] torch.compile takes 20.1 s in total',
      'INFO 11-22 10:00:10 [kv_cache_utils.py:829] GPU KV cache size: 29,632 tokens',
      'Loading weights took 3.2 seconds', // a late line of an earlier stage
      'INFO 11-22 10:00:12 [gpu_model_runner.py:2437] Capturing CUDA graphs (mixed prefill-decode, PIECEWISE): 100%',
      'INFO 11-22 10:00:20 [api_server.py:1896] Starting vLLM API server 0 on http://127.0.0.1:8000',
      'INFO:     Application startup complete.',
    ]
    let phase = 'starting process' as Parameters<typeof nextPhase>[0]
    const seen: string[] = []
    for (const l of lines) {
      phase = nextPhase(phase, l)
      seen.push(phase)
    }
    expect(seen).toEqual(['loading weights', 'compiling', 'allocating KV cache', 'allocating KV cache', 'capturing CUDA graphs', 'starting API server', 'ready'])
    expect(phaseOfLine('Engine 000: Avg prompt throughput: 0.0 tokens/s')).toBeNull()
  })
})

describe('engine log', () => {
  it('keeps a tail in memory and rotates the file by size', () => {
    const dir = tempDir()
    const file = path.join(dir, 'logs', 'engine.log')
    const log = new EngineLog(file, 100, 3, 5)
    const lines: string[] = []
    for (let i = 0; i < 30; i++) log.write(`line ${i} ${'x'.repeat(10)}\n`, (l) => lines.push(l))
    log.write('partial ', (l) => lines.push(l))
    log.write('line\n', (l) => lines.push(l))
    log.close()
    expect(lines.at(-1)).toBe('partial line')
    expect(log.lines()).toEqual(['line 26 xxxxxxxxxx', 'line 27 xxxxxxxxxx', 'line 28 xxxxxxxxxx', 'line 29 xxxxxxxxxx', 'partial line'])
    expect(fs.readdirSync(path.dirname(file)).sort()).toEqual(['engine.log', 'engine.log.1', 'engine.log.2'])
    for (const f of ['engine.log', 'engine.log.1', 'engine.log.2']) expect(fs.statSync(path.join(dir, 'logs', f)).size).toBeLessThanOrEqual(100)
    expect(fs.readFileSync(file, 'utf8')).toContain('partial line')
  })
})

describe('findExecutable', () => {
  it('finds a command on PATH or by path, and says where it looked', () => {
    const dir = tempDir()
    const bin = path.join(dir, 'vllm')
    fs.writeFileSync(bin, '#!/bin/sh\n', { mode: 0o755 })
    fs.writeFileSync(path.join(dir, 'not-exec'), '', { mode: 0o644 })
    expect(findExecutable('vllm', `/nowhere:${dir}`).found).toBe(bin)
    expect(findExecutable(bin, '').found).toBe(bin)
    expect(findExecutable('not-exec', dir).found).toBeNull()
    const missing = findExecutable('vllm', '/a:/b')
    expect(missing).toEqual({ found: null, lookedIn: ['/a/vllm', '/b/vllm'] })
  })
})

describe('who listens on a loopback port (/proc/net/tcp)', () => {
  it('finds the LISTEN sockets on the port that 127.0.0.1 reaches, IPv4 and IPv6, and nothing else', () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0 100 0 0 10 0',
      '   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 222 1 0 100 0 0 10 0',
      '   2: 0500A8C0:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 333 1 0 100 0 0 10 0', // 192.168.0.5
      '   3: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 444 1 0 100 0 0 10 0', // a connection
      '   4: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 555 1 0 100 0 0 10 0', // another port
    ].join('\n')
    expect(loopbackListenersIn(tcp, 8080)).toEqual(['111', '222'])
    const tcp6 = [
      '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 666 1 0 100 0 0 10 0',
      '   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 777 1 0 100 0 0 10 0', // ::1
      '   2: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 888 1 0 100 0 0 10 0',
    ].join('\n')
    expect(loopbackListenersIn(tcp6, 8080)).toEqual(['666', '888'])
    expect(loopbackListenersIn('', 8080)).toEqual([])
  })
})
