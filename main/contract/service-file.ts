/**
 * `<data>/service.json`: written by a running service once it listens, removed when it stops, so that a client
 * on the same machine (`vbs`) finds it without being told the URL (the port may be any, e.g. 0 in tests).
 * A service killed with -9 leaves it behind: a client that cannot connect says so and where it looked.
 */
export interface ServiceFile {
  /** The URL this machine reaches the service at (loopback for a wildcard host). */
  url: string
  pid: number
  version: string
  /** Epoch ms. */
  started_at: number
}

export const SERVICE_FILE_NAME = 'service.json'
/** The API key's file in the data dir (mode 0600), when the key is not set by VBS_API_KEY. */
export const API_KEY_FILE_NAME = 'api-key'
/** The folder the data dir is in by default, under $XDG_DATA_HOME or ~/.local/share. */
export const DATA_DIR_NAME = 'vllm-batch-server'
