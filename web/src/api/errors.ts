// The API's errors are {"error": {"code", "message", "field"}} with a Chinese message. The
// console shows the message, with clearer wording for 403/404 and the wait for 429 (rate limits
// and the staff login lockout, ACCOUNT_LOCKED).
import { ElMessage } from 'element-plus'
import 'element-plus/es/components/message/style/css'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly retryAfter?: number,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

// waitText turns Retry-After seconds into "请 N 秒后再试" (minutes from two minutes up).
export function waitText(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds <= 0) return '请稍后再试'
  if (seconds < 120) return `请 ${Math.ceil(seconds)} 秒后再试`
  return `请 ${Math.ceil(seconds / 60)} 分钟后再试`
}

export function toApiError(res: Response, body: unknown): ApiError {
  const e = (body as { error?: { code?: string; message?: string; field?: string } } | undefined)?.error
  const ra = res.headers.get('Retry-After')
  const retryAfter = ra !== null && ra !== '' ? Number(ra) : undefined
  const code = e?.code ?? `HTTP_${res.status}`
  let message = e?.message ?? ''
  switch (res.status) {
    case 403:
      message = '无权限访问'
      break
    case 404:
      message = '未找到或无权查看'
      break
    case 429: {
      const base = (message || '操作过于频繁').replace(/[，,]?请稍后再试。?$/, '')
      message = `${base}，${waitText(retryAfter)}`
      break
    }
    default:
      if (!message) message = res.status >= 500 ? '服务暂时不可用，请稍后再试' : `请求失败（${res.status}）`
  }
  return new ApiError(res.status, code, message, e?.field, retryAfter)
}

export function showError(err: unknown): void {
  const message = err instanceof ApiError ? err.message : '操作失败，请稍后再试'
  ElMessage({ type: 'error', message, grouping: true, showClose: true, duration: 4000 })
}
