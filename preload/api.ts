/**
 * What the preload gives the dashboard as `window.vbs`: how to reach the service. The dashboard talks to the
 * service only over HTTP, exactly as a browser on the LAN does, so this is connection info and nothing more.
 */
export interface VbsApi {
  /** The service's base URL on this machine, e.g. `http://127.0.0.1:4080`. */
  serverUrl: string
  /** The key the service expects as `Authorization: Bearer`. */
  apiKey: string
}

/** The main process hands the values over as `webPreferences.additionalArguments`. */
const URL_ARG = '--vbs-url='
const KEY_ARG = '--vbs-key='

/** The additional arguments the main process gives the window. */
export function connectionArgs(api: VbsApi): string[] {
  return [URL_ARG + api.serverUrl, KEY_ARG + api.apiKey]
}

/** Reads the values back in the preload ('' when an argument is missing). */
export function parseConnectionArgs(argv: readonly string[]): VbsApi {
  const value = (prefix: string): string => argv.find((a) => a.startsWith(prefix))?.slice(prefix.length) ?? ''
  return { serverUrl: value(URL_ARG), apiKey: value(KEY_ARG) }
}
