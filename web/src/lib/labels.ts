// Chinese labels for the API's enums.
import type {
  AdminPolicy,
  Gender,
  ImportStatus,
  RegistrationStatus,
  ResidentStatus,
  Role,
  Scheme,
  VisitOutcome,
  VisitReason,
  VisitTask,
} from '../api/types'

export const roleLabel: Record<Role, string> = {
  resident: '居民',
  volunteer: '村协管员',
  village_admin: '村居经办',
  staff: '宣传干事',
  admin: '劳保所管理员',
}

export const statusLabel: Record<ResidentStatus, string> = {
  unenrolled: '未参保',
  resident_pension: '城乡居民养老保险',
  employee_pension: '职工养老保险',
  exempt: '无需参保',
}

export const genderLabel: Record<Gender, string> = { male: '男', female: '女' }

export const outcomeLabel: Record<VisitOutcome, string> = {
  enrolled: '已参保',
  agreed: '同意参保',
  considering: '考虑中',
  refused: '拒绝',
  not_home: '不在家',
  moved_away: '已迁出',
  insured_elsewhere: '外地参保',
  deceased: '已故',
}

export const reasonLabel: Record<VisitReason, string> = {
  unwilling: '不愿参保',
  unable: '不能参保',
  inconvenient: '不便参保',
  cannot_afford: '缴不起费',
}

export function percent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined) return '—'
  return `${(rate * 100).toFixed(1)}%`
}

export function dateTime(s: string | null | undefined): string {
  if (!s) return '—'
  const d = new Date(s)
  if (Number.isNaN(d.getTime())) return s
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`
}

export const taskKindLabel: Record<VisitTask['kind'], string> = {
  follow_up: '到期回访',
  campaign: '宣传未响应',
  not_visited: '从未走访',
}

export const registrationStatusLabel: Record<RegistrationStatus, string> = {
  submitted: '待审核',
  referred: '已转办',
  confirmed: '已确认',
  rejected: '已退回',
}

export const schemeLabel: Record<Scheme, string> = {
  resident_pension: '城乡居民养老保险',
  employee_pension: '职工养老保险',
}

export const importStatusLabel: Record<ImportStatus['status'], string> = {
  queued: '排队中',
  running: '导入中',
  completed: '已完成',
  failed: '失败',
}

export const importFieldLabel: Record<string, string> = {
  id_number: '身份证号码',
  name: '姓名',
  gender: '性别',
  phone: '手机号码',
  village: '村居',
  employed: '是否就业',
  land_expropriated: '是否被征地农民',
  status: '参保状态',
}

export const policyStatusLabel: Record<AdminPolicy['status'], string> = {
  draft: '草稿',
  published: '已发布',
}

// today returns the calendar day in Asia/Shanghai as YYYY-MM-DD (the API's days).
export function today(offsetDays = 0): string {
  const d = new Date(Date.now() + offsetDays * 86_400_000)
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(d)
}

// The explainers' categories the town uses (the API accepts any lower-case code).
export const policyCategoryLabel: Record<string, string> = {
  overview: '全民参保计划',
  schemes: '险种介绍',
  eligibility: '参保条件',
  registration: '登记办理',
  contribution: '缴费与补贴',
  land: '被征地农民',
  faq: '常见问题',
}
