import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { vllmArgv, vllmEnv } from '../../main/engine/vllm-argv'
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
      '--enforce-eager', '--limit-mm-per-prompt', '{"image": 0}',
    ])
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
