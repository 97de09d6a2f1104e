// 政策解读: the propaganda staff edit an explainer with a live, sanitised preview; once saved
// the public API serves the change.
import { test, expect, login, go, onlyOn, screenshotBoth } from './fixtures'

test('政策解读: edit, live preview, save; the public API shows the change', async ({ page, watch }) => {
  void watch
  onlyOn('desktop')
  await login(page, 'staff')
  await go(page, 'policies')
  const item = page.locator('[data-test=policy][data-slug=changjian-wenti]')
  await expect(item).toContainText('参保常见问题解答')
  await screenshotBoth(page, 'policies', () => expect(item).toBeVisible())
  await item.locator('[data-test=policy-edit]').click()
  await expect(page).toHaveURL(/\/console\/policies\/changjian-wenti/)

  const body = page.locator('textarea[data-test=policy-body], [data-test=policy-body] textarea').first()
  await expect(body).not.toHaveValue('')
  const preview = page.locator('[data-test=policy-preview]')
  const stamp = `端到端测试 ${Date.now()}`
  const before = await body.inputValue()
  await body.fill(`${before}\n\n## ${stamp}\n\n**加粗说明** <script>window.pwned=1</script> [链接](javascript:alert(1))\n`)
  await expect(preview.locator('h2', { hasText: stamp })).toBeVisible()
  await expect(preview.locator('strong', { hasText: '加粗说明' })).toBeVisible()
  await expect(preview.locator('script')).toHaveCount(0)
  await expect(preview).toContainText('<script>') // shown as text, never run
  expect(await preview.locator('a', { hasText: '链接' }).count()).toBe(0) // markdown-it drops javascript: links
  expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined()
  await preview.locator('h2', { hasText: stamp }).scrollIntoViewIfNeeded()
  await screenshotBoth(page, 'policy-edit', async () => {
    if (page.viewportSize()!.width < 600) await page.locator('.tabs').getByText('预览').click() // phones: one pane at a time
    await preview.locator('h2', { hasText: stamp }).scrollIntoViewIfNeeded() // the preview pane shows the change
    await expect(preview.locator('h2', { hasText: stamp })).toBeVisible()
  })

  await page.locator('[data-test=policy-save]').click()
  await expect(page.locator('.el-message--success')).toContainText('已保存')
  await expect(page.locator('[data-test=policy-revisions]')).toBeVisible()
  await expect(page.locator('[data-test=policy-status]')).toHaveText('已发布')

  const pub = await page.request.get('/api/v1/policies/changjian-wenti')
  expect(pub.status()).toBe(200)
  expect(((await pub.json()) as { body: string }).body).toContain(stamp)
})
