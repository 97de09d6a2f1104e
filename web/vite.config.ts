import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'

// The console is served by `canbao serve` at /console/ (internal/console). The build must be
// deterministic (make web-check diffs a fresh build against the committed dist/): file names
// are content hashes and nothing embeds a time.
export default defineConfig({
  base: '/console/',
  plugins: [
    vue(),
    // Element Plus components and their CSS are imported where used, so the login page does
    // not pay for tables, date pickers or dialogs.
    Components({
      resolvers: [ElementPlusResolver({ importStyle: 'css' })],
      dts: 'src/components.d.ts',
    }),
  ],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    // Keep the CSP strict: no inline script, no data: module preload polyfill.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1200,
    reportCompressedSize: false,
  },
  server: {
    // `npm run dev` proxies the API to a local `canbao serve`.
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
})
