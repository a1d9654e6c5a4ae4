/**
 * Secrets of the service that none of its children needs: the keys clients and admins send us, the engine keys
 * a parent shell may hold, and the Hugging Face token (our downloader uses it in this process; only vLLM, which
 * fetches gated models from the hub itself, keeps it, by `keep`).
 */
export const CHILD_SECRETS = ['VBS_API_KEY', 'VBS_ADMIN_KEY', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'VLLM_API_KEY', 'LLAMA_API_KEY'] as const

/**
 * Names that hold credentials by convention (OPENAI_API_KEY, GROQ_API_KEY, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY,
 * PGPASSWORD ...): a remote model's `api_key_env` is one of them, and no engine or tool we run needs any. A
 * model that does gets it by name through its `env:` in models.yaml, which is applied after this.
 */
const CREDENTIAL_NAME = /(?:API_?KEY|TOKEN|SECRET|SECRET_ACCESS_KEY|PASSWORD|PASSWD|CREDENTIALS?)$/

/** The Hugging Face token's names (the second is the deprecated one huggingface_hub still reads). */
export const HF_TOKEN_VARS = ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN'] as const

/**
 * The environment of a child process (vLLM, the llama.cpp child, nvidia-smi, the discovery process): the
 * service's, without any `VBS_*` setting (no child reads one; a child that needs one is given it by name
 * afterwards), without CHILD_SECRETS and without any name that holds a credential by convention (the keys of
 * remote models among them), except the names in `keep`. Names compare case-insensitively, as
 * Windows treats them.
 */
export function childEnv(base: NodeJS.ProcessEnv, options: { keep?: readonly string[] } = {}): NodeJS.ProcessEnv {
  const keep = new Set((options.keep ?? []).map((n) => n.toUpperCase()))
  const secrets = new Set<string>(CHILD_SECRETS)
  const out: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(base)) {
    if (value === undefined) continue
    const upper = name.toUpperCase()
    if (!keep.has(upper) && (upper.startsWith('VBS_') || secrets.has(upper) || CREDENTIAL_NAME.test(upper))) continue
    out[name] = value
  }
  return out
}
