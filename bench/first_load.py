"""First-load weight of the dashboard: the JavaScript (and CSS) each page needs, compressed.

    uv run python bench/first_load.py            # builds frontend/dist when it is missing
    uv run python bench/first_load.py --budget 80

Reads Vite's manifest (``frontend/dist/.vite/manifest.json``): a page needs the entry
(``index.html``) with its static imports, then its route chunk (``src/pages/*.vue``, loaded by
the router) with *its* static imports; dynamic imports (another page, markdown-it and DOMPurify
behind the first preview) are not counted. Each file is measured raw, gzip -9 and brotli
(quality 11) — what ``tk9 serve`` sends from the precompressed twins. Prints a markdown table
and exits 1 when a page's JavaScript is over ``--budget`` KB gzip.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
from pathlib import Path

try:
    import brotli
except ImportError:  # a transitive dependency (httpx[brotli], fonttools); the column shows 0
    brotli = None

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "frontend" / "dist"
PAGES = {
    "/ (new research)": "src/pages/NewResearch.vue",
    "/sessions": "src/pages/SessionsList.vue",
    "/sessions/{id}": "src/pages/SessionPage.vue",
}


def closure(manifest: dict[str, dict[str, object]], key: str, seen: set[str]) -> set[str]:
    """``key`` and every chunk it imports statically."""
    if key in seen:
        return seen
    seen.add(key)
    for dep in manifest[key].get("imports", []):  # type: ignore[union-attr]
        closure(manifest, str(dep), seen)
    return seen


def sizes(files: set[str]) -> tuple[int, int, int]:
    raw = gz = br = 0
    for name in files:
        data = (DIST / name).read_bytes()
        raw += len(data)
        gz += len(gzip.compress(data, compresslevel=9))
        br += len(brotli.compress(data, quality=11)) if brotli is not None else 0
    return raw, gz, br


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=80.0, help="KB of JS, gzip, per page")
    args = parser.parse_args()
    manifest_path = DIST / ".vite" / "manifest.json"
    if not manifest_path.is_file():
        subprocess.run(["npm", "run", "build"], cwd=ROOT / "frontend", check=True)
    manifest: dict[str, dict[str, object]] = json.loads(manifest_path.read_text())
    entry = closure(manifest, "index.html", set())
    print("| page | JS raw KB | JS gzip KB | JS brotli KB | CSS gzip KB | files |")
    print("|---|---:|---:|---:|---:|---:|")
    over = False
    for page, chunk in PAGES.items():
        keys = closure(manifest, chunk, set(entry))
        js = {str(manifest[k]["file"]) for k in keys}
        css = {str(c) for k in keys for c in manifest[k].get("css", [])}  # type: ignore[union-attr]
        raw, gz, br = sizes(js)
        css_gz = sizes(css)[1]
        over |= gz / 1000 > args.budget
        print(
            f"| {page} | {raw / 1000:.1f} | {gz / 1000:.1f} | {br / 1000:.1f} "
            f"| {css_gz / 1000:.1f} | {len(js) + len(css)} |"
        )
    lazy = [str(v["file"]) for k, v in manifest.items() if "node_modules" in k]
    if lazy:
        print(f"\nLoaded on demand only: {', '.join(sorted(lazy))}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
