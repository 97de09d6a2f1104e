// Browser tests of the console against a real `canbao serve` (started by e2e/run.sh, which
// sets E2E_BASE_URL). They drive Debian's Chromium; Playwright's own browsers are never
// downloaded (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1).
import { defineConfig } from '@playwright/test'

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export default defineConfig({
  testDir: 'e2e',
  timeout: 120_000,
  expect: { timeout: 30_000 },
  // Two workers: each spec file (per project) runs in one worker, its tests in order; the files
  // run two at a time. The specs make their own rows (residents.ts gives every worker its own
  // ID numbers; session.spec logs out an account of its own), so none depends on another's
  // data. E2E_WORKERS=1 runs them one at a time.
  fullyParallel: false,
  workers: Number(process.env.E2E_WORKERS ?? 2),
  retries: 0,
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    baseURL: process.env.E2E_BASE_URL ?? 'http://127.0.0.1:8080',
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    // No CSS animations (style.css honours the setting): a click never lands on a drawer or
    // dialog that is still moving into place.
    reducedMotion: 'reduce',
    launchOptions: {
      executablePath: chromium,
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--font-render-hinting=none'],
    },
    trace: 'off',
    screenshot: 'only-on-failure',
  },
  projects: [
    { name: 'desktop', use: { viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 } },
    {
      name: 'phone',
      use: {
        viewport: { width: 375, height: 812 },
        deviceScaleFactor: 1,
        isMobile: true,
        hasTouch: true,
        // WeChat's in-app browser on Android.
        userAgent:
          'Mozilla/5.0 (Linux; Android 13; V2183A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 MicroMessenger/8.0.47.2560(0x28002F35) NetType/WIFI Language/zh_CN',
      },
    },
  ],
})
