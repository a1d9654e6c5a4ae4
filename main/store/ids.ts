import crypto from 'node:crypto'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

function randomToken(length: number): string {
  // 62 * 4 = 248: rejecting bytes >= 248 keeps every character equally likely.
  let out = ''
  while (out.length < length) {
    for (const byte of crypto.randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62]
    }
  }
  return out
}

export const newFileId = (): string => `file-${randomToken(24)}`
export const newBatchId = (): string => `batch_${randomToken(24)}`
export const newComparisonId = (): string => `cmp_${randomToken(24)}`
// randomUUID draws from a cached pool of entropy: cheap enough for every request.
export const newRequestId = (): string => `req_${crypto.randomUUID().replace(/-/g, '')}`

/** Ids are matched against these before they reach SQL or a path. */
export const FILE_ID = /^file-[A-Za-z0-9]{1,64}$/
export const BATCH_ID = /^batch_[A-Za-z0-9]{1,64}$/
export const COMPARISON_ID = /^cmp_[A-Za-z0-9]{1,64}$/

export const nowSeconds = (): number => Math.floor(Date.now() / 1000)
