import { contextBridge } from 'electron'
import { parseConnectionArgs, type VbsApi } from './api'

const { serverUrl, apiKey } = parseConnectionArgs(process.argv)

const api = {
  serverUrl,
  apiKey,
} satisfies VbsApi

contextBridge.exposeInMainWorld('vbs', api)
