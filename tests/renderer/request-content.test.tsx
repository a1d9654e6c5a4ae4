import { describe, expect, test } from 'vitest'
import { answerOf, promptOf, requestModel } from '../../renderer/src/request-content'

describe('what a request asked and what it got', () => {
  test('a chat request line: its messages by role, text parts joined, media as a placeholder, tool calls named', () => {
    const line = {
      custom_id: 'a',
      method: 'POST',
      url: '/v1/chat/completions',
      body: {
        model: 'gemma-3-12b',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'data:,' } }] },
          { role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }] },
        ],
      },
    }
    expect(promptOf(line)).toEqual({
      kind: 'chat',
      messages: [
        { role: 'system', text: 'Be brief.' },
        { role: 'user', text: 'What is this?\n[image]' },
        { role: 'assistant', text: '→ lookup({"q":"x"})' },
      ],
    })
    expect(requestModel(line)).toBe('gemma-3-12b')
  })

  test("a comparison row's prompt: the messages array, or the prompt string; a gone input file is none", () => {
    expect(promptOf([{ role: 'user', content: 'hi' }])).toEqual({ kind: 'chat', messages: [{ role: 'user', text: 'hi' }] })
    expect(promptOf('Once upon a time')).toEqual({ kind: 'text', text: 'Once upon a time' })
    expect(promptOf({ body: { model: 'm', prompt: ['a', 'b'] } })).toEqual({ kind: 'text', text: 'a\n\nb' })
    expect(promptOf(null)).toEqual({ kind: 'none' })
  })

  test('the answer of a chat completion, a completion, and an embeddings response', () => {
    expect(answerOf({ choices: [{ message: { role: 'assistant', content: 'Paris.', reasoning_content: 'The capital…' }, finish_reason: 'stop' }] })).toEqual({
      text: 'Paris.',
      reasoning: 'The capital…',
      finishReason: 'stop',
    })
    expect(answerOf({ choices: [{ text: ' there', finish_reason: 'length' }] })).toEqual({ text: ' there', reasoning: null, finishReason: 'length' })
    expect(answerOf({ object: 'list', data: [{ embedding: [0.1, 0.2, 0.3] }] }).text).toBe('an embedding of 3 numbers')
    expect(answerOf(null).text).toBeNull()
    expect(answerOf('not json').text).toBe('not json')
  })
})
