/**
 * Vite config. Production assets go to `dist/`, which the FastAPI app serves at `/` with an SPA
 * fallback. The dev server proxies the API and the WebSocket to a local `tk9 serve`, so the
 * bundle itself never contains a URL: it always talks to the page's own origin.
 */
import { fileURLToPath, URL } from 'node:url'
import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vite'

const backend = process.env.TK9_BACKEND ?? 'http://127.0.0.1:8000'

export default defineConfig({
  plugins: [vue()],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  server: {
    proxy: {
      '/api': { target: backend, changeOrigin: false },
      '/ws': { target: backend, ws: true },
    },
  },
  build: { outDir: 'dist', sourcemap: false, chunkSizeWarningLimit: 600 },
})
