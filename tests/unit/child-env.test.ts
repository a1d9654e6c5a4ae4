import { describe, expect, it } from 'vitest'
import { childEnv } from '../../main/engine/child-env'

describe('childEnv: what a child process (vLLM, llama.cpp, nvidia-smi) inherits', () => {
  const base: NodeJS.ProcessEnv = {
    PATH: '/usr/bin:/bin',
    HOME: '/home/me',
    CUDA_VISIBLE_DEVICES: '0',
    VBS_API_KEY: 'client-key-that-must-stay-here-000000000',
    VBS_ADMIN_KEY: 'admin-key-that-must-stay-here-0000000000',
    VBS_DATA_DIR: '/data',
    vbs_lowercase: 'also ours',
    HF_TOKEN: 'hf_secret',
    HUGGING_FACE_HUB_TOKEN: 'hf_old_secret',
    VLLM_API_KEY: 'a key someone exported',
    LLAMA_API_KEY: 'another',
    HF_HOME: '/models/hf',
    OPENAI_API_KEY: 'sk-a remote model reads this (api_key_env)',
    GROQ_APIKEY: 'gsk-another',
    GITHUB_TOKEN: 'ghp-x',
    AWS_SECRET_ACCESS_KEY: 'aws',
    PGPASSWORD: 'pg',
    TOKENIZERS_PARALLELISM: 'false',
    SSH_AUTH_SOCK: '/run/ssh',
  }

  it('drops every VBS_ setting, our secrets and credentials by name (a remote model\'s key), keeps the rest untouched', () => {
    expect(childEnv(base)).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/home/me',
      CUDA_VISIBLE_DEVICES: '0',
      HF_HOME: '/models/hf',
      TOKENIZERS_PARALLELISM: 'false',
      SSH_AUTH_SOCK: '/run/ssh',
    })
  })

  it('keeps the names asked for (the Hugging Face token, for vLLM) and never edits its input', () => {
    const copy = { ...base }
    const env = childEnv(base, { keep: ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN'] })
    expect(env).toMatchObject({ HF_TOKEN: 'hf_secret', HUGGING_FACE_HUB_TOKEN: 'hf_old_secret' })
    expect(env.VBS_API_KEY).toBeUndefined()
    expect(env.VLLM_API_KEY).toBeUndefined()
    expect(base).toEqual(copy)
  })
})
