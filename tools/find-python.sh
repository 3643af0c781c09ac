#!/usr/bin/env bash
# Prints a Python >= 3.13 interpreter: $PYTHON if set, else python3.13/python3.14 on PATH,
# else pyenv's 3.13/3.14 (whose python3.13 shim fails while pyenv's global version is older).
set -u
ok() { "$@" -c 'import sys; sys.exit(sys.version_info < (3, 13))' >/dev/null 2>&1; }
for cand in "${PYTHON:-}" python3.13 python3.14; do
  [ -n "$cand" ] && ok "$cand" && { command -v "$cand"; exit 0; }
done
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  for cand in "$root"/versions/3.13*/bin/python3.13 "$root"/versions/3.14*/bin/python3.14; do
    [ -x "$cand" ] && ok "$cand" && { echo "$cand"; exit 0; }
  done
fi
echo "find-python: no Python >= 3.13 found (set PYTHON=/path/to/python3.13)" >&2
exit 1
