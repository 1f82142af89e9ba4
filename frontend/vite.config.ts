/**
 * Vite config. Production assets go to `dist/`, which the FastAPI app serves at `/` with an SPA
 * fallback. The dev server proxies the API and the WebSocket to a local `tk9 serve`, so the
 * bundle itself never contains a URL: it always talks to the page's own origin.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, URL } from 'node:url'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import vue from '@vitejs/plugin-vue'
import { defineConfig, type Plugin } from 'vite'

const backend = process.env.TK9_BACKEND ?? 'http://127.0.0.1:8000'

/**
 * Precompress the build: beside every text asset over 1 KiB, `name.br` (brotli, quality 11) and
 * `name.gz` (gzip -9), written only when smaller. `tk9 serve` sends them to clients that accept
 * the encoding (src/tk9/server/static.py); Node's own zlib, no extra dependency.
 */
function precompress(): Plugin {
  let outDir = 'dist'
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]))
  return {
    name: 'tk9-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir
    },
    closeBundle() {
      for (const file of walk(outDir)) {
        if (!/\.(js|css|html|svg|json|txt|map)$/.test(file)) continue
        const raw = readFileSync(file)
        if (raw.length < 1024) continue
        const br = brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } })
        const gz = gzipSync(raw, { level: 9 })
        if (br.length < raw.length) writeFileSync(`${file}.br`, br)
        if (gz.length < raw.length) writeFileSync(`${file}.gz`, gz)
      }
    },
  }
}

export default defineConfig({
  plugins: [vue(), precompress()],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  server: {
    proxy: {
      '/api': { target: backend, changeOrigin: false },
      '/ws': { target: backend, ws: true },
    },
  },
  // The manifest lets bench/first_load.py tell which chunks each page loads.
  build: { outDir: 'dist', sourcemap: false, chunkSizeWarningLimit: 600, manifest: true },
})
