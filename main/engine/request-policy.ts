/**
 * What of a client's request body the engine must not see, removed before the body is sent (by the proxy
 * and the batch runner). Pure apart from editing `body` in place.
 *
 * `prompt_embeds` is a base64 `torch.save` tensor that vLLM deserializes (a `/v1/completions` field, and a
 * chat content part of type `prompt_embeds` in newer vLLM); crafted tensors have corrupted vLLM's memory
 * before, so it passes only to models whose registry entry says `allow_prompt_embeds: true` (the target's
 * `allowPromptEmbeds`) (their vLLM is
 * started with `--enable-prompt-embeds`; the others would refuse it with a 400 anyway).
 */
export function sanitizeEngineBody(body: Record<string, unknown>, target: { allowPromptEmbeds: boolean }): void {
  if (target.allowPromptEmbeds) return
  delete body.prompt_embeds
  const messages = body.messages
  if (!Array.isArray(messages)) return
  for (const message of messages) {
    if (!isObject(message) || !Array.isArray(message.content)) continue
    message.content = (message.content as unknown[]).filter((part) => !(isObject(part) && part.type === 'prompt_embeds'))
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
