#!/usr/bin/env bash
# Regenerates the configuration reference inside README.md from the schema.
set -euo pipefail
cd "$(dirname "$0")/.."
ref=$(node bin/pgbridge.js config-reference)
python3 - "$ref" <<'PY'
import sys, re
ref = sys.argv[1]
text = open('README.md').read()
start, end = '<!-- config-reference:start -->', '<!-- config-reference:end -->'
i, j = text.index(start) + len(start), text.index(end)
open('README.md', 'w').write(text[:i] + '\n' + ref + '\n' + text[j:])
PY
