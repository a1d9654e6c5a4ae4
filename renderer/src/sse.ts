// The parser is shared with the CLI (vbs), so it lives in the runtime-neutral contract.
export { SseParser, type SseMessage } from '../../main/contract/sse'
