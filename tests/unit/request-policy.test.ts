import { describe, expect, it } from 'vitest'
import { parseModels } from '../../main/config/models'
import { sanitizeEngineBody } from '../../main/engine/request-policy'

const registry = parseModels(
  [
    'models:',
    '  - id: plain',
    '    model: org/plain',
    '  - id: embeds',
    '    model: org/embeds',
    '    allow_prompt_embeds: true',
    '  - id: tiny',
    '    engine: llama.cpp',
    '    model: /models/tiny.gguf',
  ].join('\n'),
)
/** What the engine's target says of a model: its registry entry's allow_prompt_embeds. */
const entry = (id: string): { allowPromptEmbeds: boolean } => ({ allowPromptEmbeds: registry.resolve(id)!.allow_prompt_embeds === true })
const TENSOR = 'UEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAAQABIAYXJjaGl2ZS9kYXRhLnBrbA=='

describe('sanitizeEngineBody: prompt_embeds reach the engine only for models that allow them', () => {
  it('removes a completion request\'s prompt_embeds and leaves every other field as it was', () => {
    for (const id of ['plain', 'tiny']) {
      const body: Record<string, unknown> = { model: id, prompt: 'hi', prompt_embeds: TENSOR, top_k: 5, priority: 10 }
      sanitizeEngineBody(body, entry(id))
      expect(body).toEqual({ model: id, prompt: 'hi', top_k: 5, priority: 10 })
    }
  })

  it('removes prompt_embeds content parts from chat messages, keeping the text and image parts in order', () => {
    const body: Record<string, unknown> = {
      model: 'plain',
      messages: [
        { role: 'system', content: 'be short' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'before' },
            { type: 'prompt_embeds', data: TENSOR },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
          ],
        },
        null,
      ],
    }
    sanitizeEngineBody(body, entry('plain'))
    expect(body.messages).toEqual([
      { role: 'system', content: 'be short' },
      { role: 'user', content: [{ type: 'text', text: 'before' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
      null,
    ])
  })

  it('passes everything through for an entry with allow_prompt_embeds: true', () => {
    const body: Record<string, unknown> = { prompt_embeds: TENSOR, messages: [{ role: 'user', content: [{ type: 'prompt_embeds', data: TENSOR }] }] }
    const before = structuredClone(body)
    sanitizeEngineBody(body, entry('embeds'))
    expect(body).toEqual(before)
  })
})
