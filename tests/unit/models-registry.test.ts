import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ensureModelsFile, loadModels, ModelsFileError, parseModels } from '../../main/config/models'
import { ROOT, tempDir } from '../helpers/service'

const problemsOf = (text: string): string[] => {
  try {
    parseModels(text)
  } catch (err) {
    expect(err).toBeInstanceOf(ModelsFileError)
    return (err as ModelsFileError).problems
  }
  throw new Error('expected the registry to be refused')
}

describe('models.yaml registry', () => {
  it('loads the shipped registry: the six requested vLLM models, Gemma 3 12B first and default, and a small embedded default', () => {
    const registry = loadModels(path.join(ROOT, 'models.yaml'))
    expect(registry.models.filter((m) => m.engine === 'vllm').map((m) => m.id)).toEqual(['gemma-3-12b', 'gemma-3-4b', 'llama-3.1-8b', 'qwen-2.5-14b', 'mistral-7b', 'gpt-oss-20b'])
    expect(registry.models[0].id).toBe('gemma-3-12b')
    expect(registry.defaultModel).toBe('gemma-3-12b')
    // Where vLLM is missing: one small Q4 GGUF for llama.cpp, fetched from Hugging Face when first needed.
    const embedded = registry.resolve(registry.embeddedDefault!)!
    expect(embedded).toMatchObject({ id: 'qwen2.5-0.5b-instruct', engine: 'llama.cpp' })
    expect(embedded.model).toMatch(/^hf:[^/]+\/[^/]+\/.+q4_k_m\.gguf$/)
    expect(registry.resolve('gemma3')?.id).toBe('gemma-3-12b')
    expect(registry.resolve('nope')).toBeUndefined()
  })

  it('ships entries sized for a 16 GB RTX 4080: each estimate is what vLLM will reserve, and all fit', () => {
    const registry = loadModels(path.join(ROOT, 'models.yaml'))
    const totalGiB = 16376 / 1024
    for (const m of registry.models.filter((e) => e.engine === 'vllm')) {
      expect(m.vram_gb, m.id).toBeLessThan(totalGiB)
      expect(m.gpu_memory_utilization, m.id).toBeDefined()
      expect(Math.abs(m.vram_gb! - m.gpu_memory_utilization! * totalGiB), m.id).toBeLessThan(0.25)
      expect(m.max_model_len, m.id).toBeGreaterThan(0)
      expect(m.load_timeout_s, m.id).toBeGreaterThanOrEqual(600)
      expect(m.description, m.id).toBeTruthy()
    }
    // The primary model is a quantized checkpoint: Gemma 3 12B in BF16 (~24 GB) cannot fit.
    expect(registry.resolve('gemma-3-12b')!.model).toMatch(/w4a16|awq|gptq|fp8|int4/i)
    expect(registry.resolve('gpt-oss-20b')!.description).toMatch(/Stretch/)
  })

  it('resolves ids and aliases to one entry', () => {
    const r = parseModels('models:\n  - id: m1\n    aliases: [one, uno]\n    model: org/m1\n')
    expect(r.resolve('uno')?.model).toBe('org/m1')
    expect(r.defaultModel).toBe('m1')
    expect(r.names().sort()).toEqual(['m1', 'one', 'uno'])
  })

  it('names the line and field of each problem', () => {
    expect(problemsOf('models:\n  - id: m1\n    model: org/m1\n    aliasses: [x]\n')).toEqual(['line 4: models[0].aliasses is not a known field'])
    expect(problemsOf('models:\n  - id: m1\n    model: org/m1\n  - id: m2\n')).toEqual(['line 4: models[1].model is required'])
    expect(problemsOf('models:\n  - id: m1\n    model: org/m1\n    max_model_len: lots\n')).toEqual([
      'line 4: models[0].max_model_len must be integer',
    ])
    expect(problemsOf('models:\n  - id: m1\n    model: a\n  - id: m2\n    aliases: [m1]\n    model: b\n')).toEqual([
      'line 5: models[1].aliases[0]: the name "m1" is already used by models[0].id',
    ])
    expect(problemsOf('default: m9\nmodels:\n  - id: m1\n    model: a\n')).toEqual(['line 1: default: "m9" is not the id or alias of any model'])
    expect(problemsOf('models:\n  - id: "bad name"\n    model: a\n')[0]).toMatch(/^line 2: models\[0\]\.id must be a name/)
    expect(problemsOf('models: [\n')[0]).toMatch(/^line \d+: /)
    expect(problemsOf('{}')).toEqual(['line 1: models is required'])
  })

  it('copies the shipped registry into the data dir on first run and leaves an edited copy alone', () => {
    const dataDir = tempDir()
    const file = ensureModelsFile('', dataDir)
    expect(file).toBe(path.join(dataDir, 'models.yaml'))
    expect(fs.readFileSync(file, 'utf8')).toBe(fs.readFileSync(path.join(ROOT, 'models.yaml'), 'utf8'))
    fs.writeFileSync(file, 'models:\n  - id: mine\n    model: x\n')
    expect(ensureModelsFile('', dataDir)).toBe(file)
    expect(loadModels(file).models[0].id).toBe('mine')
    expect(ensureModelsFile('/elsewhere/models.yaml', dataDir)).toBe('/elsewhere/models.yaml')
  })

  it('takes an engine per model, with the fields of that engine only, and names what is wrong', () => {
    const r = parseModels(
      [
        'embedded_default: small',
        'models:',
        '  - id: big',
        '    model: org/big',
        '  - id: small',
        '    engine: llama.cpp',
        '    model: models/small.gguf',
        '    parallel: 2',
        '    gpu_layers: 0',
        '  - id: far',
        '    engine: remote',
        '    base_url: https://llm.example.org/v1',
        '    api_key_env: FAR_KEY',
        '',
      ].join('\n'),
      '/srv/conf/models.yaml',
    )
    expect(r.resolve('big')).toMatchObject({ engine: 'vllm', model: 'org/big' })
    // A relative GGUF path is read from the folder of models.yaml.
    expect(r.resolve('small')).toMatchObject({ engine: 'llama.cpp', model: '/srv/conf/models/small.gguf', parallel: 2, gpu_layers: 0 })
    expect(r.resolve('far')).toMatchObject({ engine: 'remote', base_url: 'https://llm.example.org/v1', api_key_env: 'FAR_KEY' })
    expect(r.embeddedDefault).toBe('small')

    expect(problemsOf('models:\n  - id: m\n    model: org/m\n    parallel: 4\n')).toEqual([
      'line 4: models[0].parallel is not a field of engine vllm (it takes model, max_model_len, gpu_memory_utilization, quantization, dtype, max_num_seqs, extra_args, env, vram_gb, allow_prompt_embeds, sleep)',
    ])
    expect(problemsOf('models:\n  - id: r\n    engine: remote\n')).toEqual(['line 2: models[0].base_url is required'])
    expect(problemsOf('models:\n  - id: r\n    engine: remote\n    base_url: ftp://x/v1\n')[0]).toEqual('line 4: models[0].base_url must be an http:// or https:// URL: the server\'s OpenAI base URL, such as https://host/v1')
    expect(problemsOf('models:\n  - id: r\n    engine: remote\n    base_url: http://x/v1\n    api_key_env: sk-123 secret\n')[0]).toMatch(/^line 5: models\[0\]\.api_key_env must be the name of an environment variable .* not the key itself$/)
    expect(problemsOf('models:\n  - id: l\n    engine: llama.cpp\n    model: hf:only-a-repo\n')).toEqual([
      'line 4: models[0].model must be a GGUF path or hf:<user>/<repo>/<file>.gguf',
    ])
    expect(problemsOf('models:\n  - id: l\n    engine: llama.cpp\n    model: a.gguf\n    gpu_layers: most\n')[0]).toMatch(/^line 5: models\[0\]\.gpu_layers/)
    expect(problemsOf('models:\n  - id: l\n    engine: llama.cpp\n    model: a.gguf\n    parallel: 0\n')).toEqual(['line 5: models[0].parallel must be >= 1'])
    expect(problemsOf('models:\n  - id: x\n    engine: ollama\n    model: a\n')[0]).toMatch(/^line 3: models\[0\]\.engine must be one of vllm, llama.cpp, remote/)
    expect(problemsOf('embedded_default: nope\nmodels:\n  - id: m\n    model: a\n')).toEqual(['line 1: embedded_default: "nope" is not the id or alias of any model'])
  })

  it('takes allow_prompt_embeds (a boolean, off when absent) for vllm and remote models only', () => {
    const r = parseModels(
      [
        'models:',
        '  - id: v',
        '    model: org/v',
        '    allow_prompt_embeds: true',
        '  - id: off',
        '    model: org/off',
        '  - id: r',
        '    engine: remote',
        '    base_url: http://x/v1',
        '    allow_prompt_embeds: false',
      ].join('\n'),
    )
    expect(r.resolve('v')?.allow_prompt_embeds).toBe(true)
    expect(r.resolve('off')?.allow_prompt_embeds).toBeUndefined()
    expect(r.resolve('r')?.allow_prompt_embeds).toBe(false)
    expect(problemsOf('models:\n  - id: l\n    engine: llama.cpp\n    model: a.gguf\n    allow_prompt_embeds: true\n')[0]).toMatch(
      /^line 5: models\[0\]\.allow_prompt_embeds is not a field of engine llama\.cpp/,
    )
    expect(problemsOf('models:\n  - id: v\n    model: org/v\n    allow_prompt_embeds: yes please\n')).toEqual(['line 4: models[0].allow_prompt_embeds must be boolean'])
  })

  it('takes sleep (keep warm on a switch) for vllm and llama.cpp models, not remote ones, and says what it is for when wrong', () => {
    const r = parseModels('models:\n  - id: v\n    model: org/v\n    sleep: true\n  - id: l\n    engine: llama.cpp\n    model: /m/l.gguf\n    sleep: true\n  - id: off\n    model: org/off\n')
    expect(r.resolve('v')?.sleep).toBe(true)
    expect(r.resolve('l')?.sleep).toBe(true)
    expect(r.resolve('off')?.sleep).toBeUndefined()
    expect(problemsOf('models:\n  - id: v\n    model: org/v\n    sleep: yes please\n')).toEqual([
      'line 4: models[0].sleep must be true or false (true keeps the model warm in host RAM when switching to another model)',
    ])
    expect(problemsOf('models:\n  - id: r\n    engine: remote\n    base_url: http://x/v1\n    sleep: true\n')[0]).toMatch(/^line 5: models\[0\]\.sleep is not a field of engine remote/)
    // By hand, the flag would start vLLM in sleep mode without the service ever putting it to sleep.
    expect(problemsOf('models:\n  - id: v\n    model: org/v\n    extra_args: [--enable-sleep-mode]\n')).toEqual([
      'line 4: models[0].extra_args: use sleep: true instead of --enable-sleep-mode (the service then puts the model to sleep on a switch and sets VLLM_SERVER_DEV_MODE=1)',
    ])
  })
})
