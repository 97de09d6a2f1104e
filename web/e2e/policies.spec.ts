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

test('政策解读: open an older version, see its diff against the draft, restore it, save: one more version', async ({ page, watch }) => {
  void watch
  onlyOn('desktop')
  await login(page, 'staff')
  await go(page, 'policies')
  const item = page.locator('[data-test=policy][data-slug=beizhengdi-nongmin]')
  await item.locator('[data-test=policy-edit]').click()
  await expect(page).toHaveURL(/\/console\/policies\/beizhengdi-nongmin/)

  const body = page.locator('textarea[data-test=policy-body], [data-test=policy-body] textarea').first()
  const title = page.locator('input[data-test=policy-title], [data-test=policy-title] input').first()
  await expect(body).not.toHaveValue('')
  const views = page.locator('[data-test=policy-revisions] [data-test=revision-view]')
  await expect(views.first()).toBeVisible()
  const before = await views.count()
  const original = await body.inputValue()
  const originalTitle = await title.inputValue()

  // An edit: a new line in the body and a new title, saved as the next version.
  const stamp = `版本对比测试 ${Date.now()}`
  const lines = original.split('\n')
  await body.fill([...lines.slice(0, 2), stamp, ...lines.slice(2)].join('\n'))
  await title.fill('被征地农民参保指南（修订）')
  await page.locator('[data-test=policy-save]').click()
  await expect(page.locator('.el-message--success').last()).toContainText('已保存')
  await expect(views).toHaveCount(before + 1)
  const newest = Number(await views.first().getAttribute('data-version'))

  // The version before the edit, against the draft: the new line is only in the editor.
  await page.locator(`[data-test=revision-view][data-version="${newest - 1}"]`).click()
  const dialog = page.locator(`[data-test=revision-dialog][data-version="${newest - 1}"]`)
  await expect(dialog).toBeVisible()
  const diff = dialog.locator('[data-test=revision-diff]')
  await expect(diff.locator('.line.add')).toHaveText([new RegExp(stamp)])
  await expect(diff.locator('.line.del')).toHaveCount(0)
  await expect(dialog.locator('[data-test=revision-diff-counts]')).toHaveAttribute('data-added', '1')
  await expect(dialog.locator('[data-test=revision-field-title]')).toHaveAttribute('data-changed', 'true')
  await expect(dialog.locator('[data-test=revision-field-title]')).toContainText(originalTitle)
  await expect(dialog.locator('[data-test=revision-field-summary]')).toHaveAttribute('data-changed', 'false')
  await screenshotBoth(page, 'policy-revision', () => expect(dialog.locator('[data-test=revision-diff] .line.add')).toBeVisible())
  await dialog.locator('[data-test=revision-tab-text]').click()
  await expect(dialog.locator('[data-test=revision-text]')).toContainText(originalTitle)
  await expect(dialog.locator('[data-test=revision-text]')).not.toContainText(stamp)

  // Restore: the editor holds the old text, unsaved until 保存, which makes one more version.
  await page.locator('[data-test=revision-restore]').click()
  await expect(dialog).toBeHidden()
  await expect(body).toHaveValue(original)
  await expect(title).toHaveValue(originalTitle)
  await expect(page.locator('.head-right')).toContainText('有未保存的修改')
  await expect(views).toHaveCount(before + 1)
  await page.locator('[data-test=policy-save]').click()
  await expect(views).toHaveCount(before + 2)
  await expect(views.first()).toHaveAttribute('data-version', String(newest + 1))
  await expect(page.locator('.head-right')).not.toContainText('有未保存的修改')
  await expect(page.locator('[data-test=policy-revisions] .el-table__row').first()).toContainText(originalTitle)

  // Reopened, the restored version equals the one it came from.
  await page.locator(`[data-test=revision-view][data-version="${newest + 1}"]`).click()
  const again = page.locator(`[data-test=revision-dialog][data-version="${newest + 1}"]`)
  await expect(again.locator('[data-test=revision-same]')).toBeVisible()
  await expect(again.locator('[data-test=revision-diff] .line.add, [data-test=revision-diff] .line.del')).toHaveCount(0)
})
