// upload sends a file as multipart/form-data with XMLHttpRequest, whose upload.onprogress
// reports the bytes sent (fetch cannot report upload progress in most browsers). It carries the
// bearer token, refreshes once on 401 like the typed client, and answers the parsed JSON or
// throws an ApiError with the server's Chinese message.
import { accessToken, refresh, signOut } from './session'
import { ApiError, toApiError } from './errors'

export interface UploadOptions {
  fields?: Record<string, string>
  headers?: Record<string, string>
  onProgress?: (fraction: number) => void
}

interface Raw {
  status: number
  body: unknown
  headers: Headers
}

function send(url: string, file: File, opts: UploadOptions): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', url)
    xhr.withCredentials = true
    xhr.setRequestHeader('Accept', 'application/json')
    const token = accessToken()
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    for (const [k, v] of Object.entries(opts.headers ?? {})) xhr.setRequestHeader(k, v)
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) opts.onProgress?.(e.loaded / e.total)
    }
    xhr.onload = () => {
      let body: unknown
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : undefined
      } catch {
        body = undefined
      }
      const headers = new Headers()
      for (const line of xhr.getAllResponseHeaders().trim().split(/[\r\n]+/)) {
        const i = line.indexOf(':')
        if (i > 0) headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim())
      }
      resolve({ status: xhr.status, body, headers })
    }
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', '网络连接失败，请检查网络后重试'))
    xhr.onabort = () => reject(new ApiError(0, 'ABORTED', '上传已取消'))
    const form = new FormData()
    form.append('file', file, file.name)
    for (const [k, v] of Object.entries(opts.fields ?? {})) form.append(k, v)
    xhr.send(form)
  })
}

export async function upload<T>(url: string, file: File, opts: UploadOptions = {}): Promise<T> {
  let r = await send(url, file, opts)
  if (r.status === 401 && (await refresh())) r = await send(url, file, opts)
  if (r.status === 401) signOut()
  if (r.status >= 200 && r.status < 300) {
    opts.onProgress?.(1)
    return r.body as T
  }
  throw toApiError(new Response(null, { status: r.status, headers: r.headers }), r.body)
}
