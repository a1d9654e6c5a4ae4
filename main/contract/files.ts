/** The OpenAI File object (`POST /v1/files`, `GET /v1/files[/{id}]`). */
export interface FileObject {
  id: string
  object: 'file'
  bytes: number
  created_at: number
  expires_at: number | null
  filename: string
  purpose: string
  status: 'processed'
  status_details: null
}

export interface FileList {
  object: 'list'
  data: FileObject[]
  first_id: string | null
  last_id: string | null
  has_more: boolean
}

export interface FileDeleted {
  id: string
  object: 'file'
  deleted: true
}
