#!/usr/bin/env bash
# Usage: scripts/commit.sh "message" path [path...]
# Commits only the given paths, serialized across concurrent developers with a lock.
set -euo pipefail
msg=$1; shift
cd "$(git rev-parse --show-toplevel)"
exec 9>/tmp/largetable-git.lock
flock 9
git add -A -- "$@"
if git diff --cached --quiet -- "$@"; then echo "nothing to commit in: $*"; exit 0; fi
git commit -q -m "$msg" -- "$@"
git log --oneline -1
