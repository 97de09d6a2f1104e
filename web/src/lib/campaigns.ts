// 宣传活动: labels of a campaign's statuses, channels and skip reasons, and the staff actions
// each status allows (campaigns/campaign.go transitions; retry-failed is refused for draft and
// cancelled campaigns). The server stays the judge: a 409 is shown as a Chinese message.
import { ElMessage, ElMessageBox } from 'element-plus'
import 'element-plus/es/components/message-box/style/css'
import { api, call } from '../api/client'
import { ApiError, showError } from '../api/errors'
import type { CampaignChannel, CampaignStatus } from '../api/types'

export const campaignStatusLabel: Record<CampaignStatus, string> = {
  draft: '草稿',
  scheduled: '待发送',
  running: '发送中',
  paused: '已暂停',
  completed: '已完成',
  cancelled: '已取消',
}

export const campaignStatusType: Record<CampaignStatus, 'info' | 'primary' | 'success' | 'warning' | 'danger'> = {
  draft: 'info',
  scheduled: 'primary',
  running: 'success',
  paused: 'warning',
  completed: 'success',
  cancelled: 'danger',
}

export const channelLabel: Record<CampaignChannel, string> = {
  wechat: '微信订阅消息',
  sms: '短信',
  visit_task: '入户走访任务',
  log: '仅记录（测试）',
}

const skipReason: Record<string, string> = {
  no_consent: '未订阅（无微信授权）',
  frequency_cap: '超过频次上限',
  quiet_hours: '不在发送时段',
  no_contact: '无联系方式',
  cancelled: '活动已取消',
  enrolled: '已参保',
  opted_out: '已拒收提醒',
  visited_recently: '近期已走访',
}
export const skipReasonLabel = (r: string): string => skipReason[r] ?? r

export type CampaignAction = 'schedule' | 'pause' | 'resume' | 'cancel' | 'retry-failed'

export const actionLabel: Record<CampaignAction, string> = {
  schedule: '安排发送',
  pause: '暂停',
  resume: '恢复',
  cancel: '取消活动',
  'retry-failed': '重发失败',
}

const allowed: Record<CampaignStatus, CampaignAction[]> = {
  draft: ['schedule', 'cancel'],
  scheduled: ['pause', 'cancel'],
  running: ['pause', 'cancel', 'retry-failed'],
  paused: ['resume', 'cancel', 'retry-failed'],
  completed: ['retry-failed'],
  cancelled: [],
}

export function actionsFor(status: CampaignStatus): CampaignAction[] {
  return allowed[status] ?? []
}

// finished: nothing more happens by itself (stats stop polling).
export function finished(status: CampaignStatus): boolean {
  return status === 'completed' || status === 'cancelled' || status === 'draft'
}

const confirmText: Partial<Record<CampaignAction, string>> = {
  cancel: '取消后排队中的消息不再发送，且不能恢复。确定取消该活动吗？',
  schedule: '安排后活动将在开始时间按发送时段自动发送。确定安排发送吗？',
  'retry-failed': '发送失败的消息将重新排队发送。确定重发吗？',
}

export async function confirmAction(action: CampaignAction, name: string): Promise<boolean> {
  const text = confirmText[action]
  if (!text) return true
  try {
    await ElMessageBox.confirm(text, `${actionLabel[action]}：${name}`, {
      confirmButtonText: actionLabel[action],
      cancelButtonText: '返回',
      type: action === 'cancel' ? 'warning' : 'info',
      customClass: 'campaign-confirm',
    })
    return true
  } catch {
    return false
  }
}

function transition(id: number, action: Exclude<CampaignAction, 'retry-failed'>) {
  const params = { params: { path: { id } } }
  switch (action) {
    case 'schedule':
      return api.POST('/api/v1/admin/campaigns/{id}/schedule', params)
    case 'pause':
      return api.POST('/api/v1/admin/campaigns/{id}/pause', params)
    case 'resume':
      return api.POST('/api/v1/admin/campaigns/{id}/resume', params)
    case 'cancel':
      return api.POST('/api/v1/admin/campaigns/{id}/cancel', params)
  }
}

// runAction calls the action's route; it returns the new status (or null after a retry, with
// how many were queued again shown), and shows a 409 as "the campaign's status does not allow
// this" with the server's own wording.
export async function runAction(id: number, action: CampaignAction): Promise<CampaignStatus | null> {
  try {
    if (action === 'retry-failed') {
      const r = await call(api.POST('/api/v1/admin/campaigns/{id}/retry-failed', { params: { path: { id } }, body: {} }), {
        silent: true,
      })
      ElMessage({ type: 'success', message: r.requeued > 0 ? `已重新排队 ${r.requeued} 条` : '没有发送失败的消息', grouping: true })
      return null
    }
    const r = await call(transition(id, action), { silent: true })
    ElMessage({ type: 'success', message: `${actionLabel[action]}：活动现为“${campaignStatusLabel[r.status]}”`, grouping: true })
    return r.status
  } catch (e) {
    if (e instanceof ApiError && e.status === 409) {
      showError(new ApiError(409, e.code, `无法${actionLabel[action]}：${e.message || '活动状态已变化，请刷新后重试'}`))
    } else {
      showError(e)
    }
    throw e
  }
}
