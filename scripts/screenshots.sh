#!/usr/bin/env bash
# Screenshots of the pages (digest, problem, follow-up list, review) at 1280×800 and 390×844 into
# docs/screenshots/, taken by the browser tests (tests/browser/test_digest_pages.py: the real server
# over two demo weeks, headless Chromium) and made small (256-colour PNG; phone shots at 1×).
# Needs .venv (scripts/setup.sh) and Chromium (scripts/ci-system-deps.sh). About a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 FM_TEST_OUTPUT="$OUT"
.venv/bin/python -m pytest -q -p no:cacheprovider tests/browser/test_digest_pages.py
mkdir -p docs/screenshots
.venv/bin/python - "$OUT/browser" docs/screenshots <<'PY'
import sys
from pathlib import Path

from PIL import Image

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
names = [f"{page}-{size}" for page in ("digest", "problem", "followup", "review") for size in ("desktop", "phone")]
names += [f"{page}-{size}-full" for page in ("digest", "problem") for size in ("desktop", "phone")]  # whole pages
for name in names:
    im = Image.open(src / f"{name}.png").convert("RGB")
    if name.split("-")[1] == "phone":  # taken at device scale 2
        im = im.resize((im.width // 2, im.height // 2), Image.LANCZOS)
    im.quantize(colors=96 if name.endswith("-full") else 256, method=Image.MEDIANCUT).save(dst / f"{name}.png", optimize=True)
    print(f"{dst / name}.png {im.width}x{im.height} {(dst / f'{name}.png').stat().st_size // 1024} KiB")
PY
