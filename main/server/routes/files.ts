import fs from 'node:fs'
import Router from '@koa/router'
import { badRequest } from '../../api-error'
import { checkExpiresAfter, echo } from '../../api-params'
import type { Settings } from '../../config/settings'
import type { FileService } from '../../files/file-service'
import type { FileRow } from '../../store/files-repo'
import type { Store } from '../../store'
import { receiveUpload } from '../multipart-upload'
import type { AppState } from '../middleware'
import { listParams } from './list-params'
import type { FileDeleted, FileList, FileObject } from '../../contract/files'

/** Purposes a client may upload with (outputs are written by the server as `batch_output`). */
const UPLOAD_PURPOSES = ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals']
const LIST_PURPOSES = [...UPLOAD_PURPOSES, 'batch_output', 'assistants_output', 'fine-tune-results']

export function toFileObject(row: FileRow): FileObject {
  return {
    id: row.id,
    object: 'file',
    bytes: row.bytes,
    created_at: row.created_at,
    expires_at: row.expires_at,
    filename: row.filename,
    purpose: row.purpose,
    status: 'processed',
    status_details: null,
  }
}

/** The body size a request declares, or null for a chunked body (Node has already refused a malformed one). */
function declaredLength(header: string): number | null {
  return /^\d+$/.test(header) ? Number(header) : null
}

export function filesRouter(deps: { settings: Settings; store: Store; files: FileService }): Router<AppState> {
  const { settings, store, files } = deps
  const router = new Router<AppState>()

  router.post('/v1/files', async (ctx) => {
    try {
      files.admitUpload(declaredLength(ctx.get('content-length')), settings.maxFileBytes)
    } catch (err) {
      // The body is left unread: closing the connection after the answer stops the client from sending it all.
      ctx.set('connection', 'close')
      throw err
    }
    const upload = await receiveUpload(ctx.req, files.tempPath(), {
      maxFileBytes: settings.maxFileBytes,
      guard: files.uploadGuard(),
    })
    try {
      const purpose = upload.fields.purpose
      if (purpose === undefined || purpose === '') {
        throw badRequest("Missing required parameter: 'purpose'.", 'missing_required_parameter', 'purpose')
      }
      if (!UPLOAD_PURPOSES.includes(purpose)) {
        throw badRequest(
          `Invalid value for 'purpose': ${echo(purpose)}. Supported values are: ${UPLOAD_PURPOSES.map((p) => `'${p}'`).join(', ')}.`,
          'invalid_value',
          'purpose',
        )
      }
      if (purpose === 'batch' && !/\.jsonl$/i.test(upload.filename)) {
        throw badRequest('Invalid file format for Batch API. Must be .jsonl', 'invalid_file_format', 'file')
      }
      const anchor = upload.fields['expires_after[anchor]']
      const seconds = upload.fields['expires_after[seconds]']
      const expiresAfter =
        anchor === undefined && seconds === undefined
          ? null
          : checkExpiresAfter({ anchor, seconds }, 'expires_after')
      const row = files.commitUpload({
        tempPath: upload.tempPath,
        filename: upload.filename,
        purpose,
        bytes: upload.bytes,
        lineCount: upload.lineCount,
        expiresAfter,
      })
      ctx.body = toFileObject(row)
    } catch (err) {
      fs.rmSync(upload.tempPath, { force: true })
      throw err
    }
  })

  router.get('/v1/files', (ctx) => {
    const { limit, after, order } = listParams(ctx.query, { defaultLimit: 10_000, maxLimit: 10_000, orders: true })
    const purpose = ctx.query.purpose
    if (purpose !== undefined && (typeof purpose !== 'string' || !LIST_PURPOSES.includes(purpose))) {
      throw badRequest(`Invalid value for 'purpose': ${JSON.stringify(purpose)}.`, 'invalid_value', 'purpose')
    }
    if (after !== undefined) files.getRow(after, 'after')
    const page = store.files.list({ purpose, limit, order, after })!
    const data = page.rows.map(toFileObject)
    const list: FileList = {
      object: 'list',
      data,
      first_id: page.rows[0]?.id ?? null,
      last_id: page.rows.at(-1)?.id ?? null,
      has_more: page.hasMore,
    }
    ctx.body = list
  })

  router.get('/v1/files/:id', (ctx) => {
    ctx.body = toFileObject(files.getRow(ctx.params.id))
  })

  router.get('/v1/files/:id/content', (ctx) => {
    const row = files.getRow(ctx.params.id)
    ctx.type = 'application/octet-stream'
    ctx.length = row.bytes
    ctx.attachment(row.filename)
    ctx.body = fs.createReadStream(files.pathOf(row.id))
  })

  router.delete('/v1/files/:id', (ctx) => {
    const row = files.getRow(ctx.params.id)
    files.delete(row.id)
    ctx.body = { id: row.id, object: 'file', deleted: true } satisfies FileDeleted
  })

  return router
}
