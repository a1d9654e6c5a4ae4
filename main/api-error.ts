import type { ErrorEnvelope } from './contract/errors'

/**
 * The one error type thrown anywhere in the service. The error-envelope middleware turns it into
 * OpenAI's four-key envelope: {"error": {"message", "type", "param", "code"}}.
 */
export type ApiErrorType =
  | 'invalid_request_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'conflict_error'

export interface ApiErrorOptions {
  type?: ApiErrorType
  code?: string | null
  param?: string | null
  headers?: Record<string, string>
}

export class ApiError extends Error {
  readonly status: number
  readonly type: ApiErrorType
  readonly code: string | null
  readonly param: string | null
  readonly headers: Record<string, string>

  constructor(status: number, message: string, options: ApiErrorOptions = {}) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.type = options.type ?? defaultType(status)
    this.code = options.code ?? null
    this.param = options.param ?? null
    this.headers = options.headers ?? {}
  }

  toJSON(): ErrorEnvelope {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } }
  }
}

function defaultType(status: number): ApiErrorType {
  if (status === 404) return 'invalid_request_error'
  if (status === 429) return 'rate_limit_error'
  if (status >= 500) return 'server_error'
  return 'invalid_request_error'
}

export const badRequest = (message: string, code: string | null, param: string | null = null): ApiError =>
  new ApiError(400, message, { code, param })

export const notFound = (message: string, param: string | null = null): ApiError =>
  new ApiError(404, message, { code: null, param })
