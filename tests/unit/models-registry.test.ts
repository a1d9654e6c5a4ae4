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
  it('loads the shipped registry: the six requested models, Gemma 3 12B first and default', () => {
    const registry = loadModels(path.join(ROOT, 'models.yaml'))
    expect(registry.models.map((m) => m.id)).toEqual(['gemma-3-12b', 'gemma-3-4b', 'llama-3.1-8b', 'qwen-2.5-14b', 'mistral-7b', 'gpt-oss-20b'])
    expect(registry.defaultModel).toBe('gemma-3-12b')
    expect(registry.resolve('gemma3')?.id).toBe('gemma-3-12b')
    expect(registry.resolve('nope')).toBeUndefined()
  })

  it('ships entries sized for a 16 GB RTX 4080: each estimate is what vLLM will reserve, and all fit', () => {
    const registry = loadModels(path.join(ROOT, 'models.yaml'))
    const totalGiB = 16376 / 1024
    for (const m of registry.models) {
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
})
