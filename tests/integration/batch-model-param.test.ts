// POST /v1/batches `model` (this service's addition, used by vbs submit --model): every line runs on that model.
import OpenAI, { toFile } from 'openai'
import { afterEach, describe, expect, it } from 'vitest'
import { jsonl } from '../helpers/service'
import { fakeServices } from '../helpers/fake-engine'
import { batchReaches } from '../helpers/batches'

const services = fakeServices()
afterEach(services.cleanup)

describe('POST /v1/batches with model', () => {
  it('runs the file on the model named (an alias resolved), and refuses a bad one in the error envelope', async () => {
    const { t, fake } = await services.boot()
    const file = await t.client.files.create({ file: await toFile(Buffer.from(jsonl(3)), 'in.jsonl'), purpose: 'batch' })
    const params = { input_file_id: file.id, endpoint: '/v1/chat/completions' as const, completion_window: '24h' as const }
    const created = await t.client.batches.create({ ...params, model: 'model-b' } as OpenAI.Batches.BatchCreateParams)
    const done = await batchReaches(t, created.id, ['completed'])
    expect(done.model).toBe('test-model-b')
    expect(fake.requests().filter((r) => r.path === '/v1/chat/completions').map((r) => r.model)).toEqual(Array(3).fill('test-model-b'))

    const unknown = await t.api('/v1/batches', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...params, model: 'nope' }) })
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toEqual({ error: { message: 'The model "nope" does not exist: it is not in models.yaml.', type: 'invalid_request_error', param: 'model', code: 'model_not_found' } })
    const wrongType = await t.api('/v1/batches', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...params, model: 7 }) })
    expect(wrongType.status).toBe(400)
    expect(await wrongType.json()).toEqual({ error: { message: "Invalid 'model': expected a model id or alias from models.yaml, got a number.", type: 'invalid_request_error', param: 'model', code: 'invalid_type' } })
  })
})
