// Routes, each with the roles that may open it (the x-roles of the API calls it makes).
// Phase 2 pages (入户走访, 登记审核, 宣传活动, 政策解读, 导入, 任务分解, 移交, 用户) and issue
// #14's (宣传活动现场, 单位参保督查, 未参保原因分析) are in this list, and so in the menu. A
// volunteer lands on 入户走访.
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { ElMessage } from 'element-plus'
import type { Role } from './api/types'
import { hasRole, restore, session } from './api/session'
import { whenSignedOut } from './api/client'

declare module 'vue-router' {
  interface RouteMeta {
    title?: string
    roles?: Role[]
    public?: boolean
    menu?: boolean
    icon?: string
    // menuParent: the menu item lit while this page (not itself in the menu) is open.
    menuParent?: string
  }
}

export const pages: RouteRecordRaw[] = [
  {
    path: 'dashboard',
    name: 'dashboard',
    component: () => import('./views/DashboardView.vue'),
    meta: { title: '总览', roles: ['staff', 'admin', 'village_admin'], menu: true, icon: 'DataAnalysis' },
  },
  {
    path: 'visits',
    name: 'visits',
    component: () => import('./views/VisitsView.vue'),
    meta: { title: '入户走访', roles: ['volunteer', 'village_admin'], menu: true, icon: 'Location' },
  },
  {
    path: 'roster',
    name: 'roster',
    component: () => import('./views/RosterView.vue'),
    meta: { title: '花名册', roles: ['volunteer', 'village_admin', 'staff', 'admin'], menu: true, icon: 'User' },
  },
  {
    path: 'campaigns',
    name: 'campaigns',
    component: () => import('./views/CampaignsView.vue'),
    meta: { title: '宣传活动', roles: ['staff', 'admin'], menu: true, icon: 'Promotion' },
  },
  {
    path: 'campaigns/new',
    name: 'campaign-new',
    component: () => import('./views/CampaignWizardView.vue'),
    meta: { title: '新建宣传活动', roles: ['staff', 'admin'], menuParent: 'campaigns' },
  },
  {
    path: 'campaigns/:id(\\d+)',
    name: 'campaign',
    component: () => import('./views/CampaignDetailView.vue'),
    meta: { title: '宣传活动详情', roles: ['staff', 'admin'], menuParent: 'campaigns' },
  },
  {
    path: 'registrations',
    name: 'registrations',
    component: () => import('./views/RegistrationsView.vue'),
    meta: { title: '登记审核', roles: ['village_admin', 'admin'], menu: true, icon: 'Stamp' },
  },
  // Issue #14: 集中宣传 events, 单位参保督查 (employers, referral cases), 未参保原因分析. A village
  // admin sees their village's events, employers and reasons (the server scopes the answers);
  // the code image, poster, stats and the cases are staff's and the admin's.
  {
    path: 'events',
    name: 'events',
    component: () => import('./views/EventsView.vue'),
    meta: { title: '宣传活动现场', roles: ['staff', 'admin', 'village_admin'], menu: true, icon: 'Flag' },
  },
  {
    path: 'events/:id(\\d+)',
    name: 'event',
    component: () => import('./views/EventDetailView.vue'),
    meta: { title: '活动现场详情', roles: ['staff', 'admin', 'village_admin'], menuParent: 'events' },
  },
  {
    path: 'employers',
    name: 'employers',
    component: () => import('./views/EmployersView.vue'),
    meta: { title: '单位参保督查', roles: ['staff', 'admin', 'village_admin'], menu: true, icon: 'OfficeBuilding' },
  },
  {
    path: 'employers/referrals',
    name: 'referrals',
    component: () => import('./views/ReferralsView.vue'),
    meta: { title: '移送案件', roles: ['staff', 'admin'], menuParent: 'employers' },
  },
  {
    path: 'reasons',
    name: 'reasons',
    component: () => import('./views/ReasonsView.vue'),
    meta: { title: '未参保原因分析', roles: ['staff', 'admin', 'village_admin'], menu: true, icon: 'PieChart' },
  },
  {
    path: 'imports',
    name: 'imports',
    component: () => import('./views/ImportView.vue'),
    meta: { title: '导入', roles: ['admin'], menu: true, icon: 'UploadFilled' },
  },
  {
    path: 'allocate',
    name: 'allocate',
    component: () => import('./views/AllocateView.vue'),
    meta: { title: '任务分解', roles: ['admin'], menu: true, icon: 'Histogram' },
  },
  {
    path: 'handover',
    name: 'handover',
    component: () => import('./views/HandoverView.vue'),
    meta: { title: '移交', roles: ['staff', 'admin'], menu: true, icon: 'Switch' },
  },
  {
    path: 'policies',
    name: 'policies',
    component: () => import('./views/PoliciesView.vue'),
    meta: { title: '政策解读', roles: ['staff', 'admin'], menu: true, icon: 'Reading' },
  },
  {
    path: 'policies/:slug',
    name: 'policy-edit',
    component: () => import('./views/PolicyEditView.vue'),
    meta: { title: '编辑政策解读', roles: ['staff', 'admin'], menuParent: 'policies' },
  },
  {
    path: 'users',
    name: 'users',
    component: () => import('./views/UsersView.vue'),
    meta: { title: '用户', roles: ['admin'], menu: true, icon: 'Avatar' },
  },
]

const routes: RouteRecordRaw[] = [
  {
    path: '/login',
    name: 'login',
    component: () => import('./views/LoginView.vue'),
    meta: { title: '登录', public: true },
  },
  {
    path: '/',
    component: () => import('./layout/AppLayout.vue'),
    children: [{ path: '', name: 'home', redirect: () => landing() }, ...pages],
  },
  {
    path: '/:rest(.*)*',
    name: 'notfound',
    component: () => import('./views/NotFoundView.vue'),
    meta: { title: '页面不存在', public: true },
  },
]

// landing is the first page a role may open.
export function landing(): { name: string } {
  const first = pages.find((p) => hasRole(p.meta?.roles))
  return { name: (first?.name as string) ?? 'login' }
}

export const router = createRouter({
  history: createWebHistory('/console/'),
  routes,
  scrollBehavior: () => ({ top: 0 }),
})

router.beforeEach(async (to) => {
  if (to.meta.public) {
    if (to.name === 'login' && (await restore()) && session.user) return landing()
    return true
  }
  if (!session.token && !(await restore())) {
    return { name: 'login', query: to.fullPath !== '/' ? { next: to.fullPath } : {} }
  }
  if (!hasRole(to.meta.roles)) {
    ElMessage({ type: 'error', message: '无权限访问', grouping: true })
    const home = landing()
    return home.name === to.name ? { name: 'login' } : home
  }
  return true
})

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} · 全民参保工作台` : '全民参保工作台'
})

whenSignedOut(() => {
  const current = router.currentRoute.value
  if (current.name !== 'login') {
    ElMessage({ type: 'warning', message: '登录已过期，请重新登录', grouping: true })
    void router.replace({ name: 'login', query: { next: current.fullPath } })
  }
})
