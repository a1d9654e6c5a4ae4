import type { EngineKind } from './engine'

/** One model of `GET /v1/models` and `GET /v1/models/{id}`: OpenAI's Model object plus what this service knows. */
export interface ModelObject {
  id: string
  object: 'model'
  created: number
  owned_by: string
  /** Which engine runs it: vllm, llama.cpp or remote. */
  engine: EngineKind
  capabilities: { embeddings: boolean; priority: boolean }
  loaded: boolean
  max_model_len: number | null
  aliases: string[]
  description: string | null
  /** For an `hf:` GGUF, fetched when first needed: whether it is here yet; null for every other model. */
  downloaded: boolean | null
}

export interface ModelList {
  object: 'list'
  data: ModelObject[]
}
