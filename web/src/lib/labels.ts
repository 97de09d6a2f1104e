// Chinese labels for the API's enums.
import type { Gender, ResidentStatus, Role, VisitOutcome, VisitReason } from '../api/types'

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
