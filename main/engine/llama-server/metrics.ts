/**
 * Prometheus counters and gauges in the shape of vLLM's `vllm:` series (labelled with model_name), so the
 * service's dashboard reads either engine the same way.
 */
export interface QueueState {
  running: number
  waiting: number
}

export class Metrics {
  promptTokens = 0
  generationTokens = 0
  requests = 0

  constructor(private readonly modelName: string) {}

  /** One finished generation (chat or text completion). */
  record(promptTokens: number, generationTokens: number): void {
    this.promptTokens += promptTokens
    this.generationTokens += generationTokens
    this.requests++
  }

  render(queue: QueueState): string {
    const label = `{model_name="${escapeLabel(this.modelName)}"}`
    const series: [name: string, type: 'gauge' | 'counter', help: string, value: number][] = [
      ['llamacpp:num_requests_running', 'gauge', 'Requests holding a context sequence (generating).', queue.running],
      ['llamacpp:num_requests_waiting', 'gauge', 'Requests waiting for a context sequence.', queue.waiting],
      ['llamacpp:prompt_tokens_total', 'counter', 'Prompt tokens processed.', this.promptTokens],
      ['llamacpp:generation_tokens_total', 'counter', 'Tokens generated.', this.generationTokens],
      ['llamacpp:requests_total', 'counter', 'Generation requests finished.', this.requests],
    ]
    let out = ''
    for (const [name, type, help, value] of series) out += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name}${label} ${value}\n`
    return out
  }
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}
