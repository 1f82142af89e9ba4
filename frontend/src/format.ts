/** Small display helpers shared by the pages. */

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

/** `1m 05s` style duration between two Unix-second timestamps. */
export function formatElapsed(from: number | null, to: number | null, nowSeconds: number): string {
  if (from === null) return ''
  const seconds = Math.max(0, Math.round((to ?? nowSeconds) - from))
  const m = Math.floor(seconds / 60)
  const s = seconds % 60
  return m > 0 ? `${m}m ${String(s).padStart(2, '0')}s` : `${s}s`
}

export function formatTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toLocaleString()
}

export function formatClock(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toLocaleTimeString()
}

export const STATUS_LABEL: Record<string, string> = {
  pending: 'Pending',
  running: 'Running',
  completed: 'Completed',
  completed_with_warnings: 'Completed with warnings',
  failed: 'Failed',
  skipped: 'Skipped',
  cancelled: 'Cancelled',
  interrupted: 'Interrupted',
}

/**
 * A mark per final status, shown beside the label so that no status is told by colour alone
 * (pending and running keep their dot, which pulses while running).
 */
export const STATUS_ICON: Record<string, string> = {
  completed: '✓',
  completed_with_warnings: '⚠',
  failed: '✕',
  skipped: '↷',
  cancelled: '⊘',
  interrupted: '!',
}

/** `0.375` → `38%`. */
export function formatPercent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`
}

/** `1 warning`, `2 warnings`. */
export function counted(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}
