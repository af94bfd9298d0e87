#!/usr/bin/env bash
# The whole test suite: installs what the tests need, then runs every test of the workspace.
# Backends the tests need (Azurite, moto, PostgreSQL) are started by the tests themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
# A skipped storage or database backend is a failure, not a pass.
export SEEDSHIP_TEST_DISALLOW_SKIP=1
# The repository cache the commands under test keep by default (as restic does) goes to a
# directory of this run, not the user's ~/.cache.
XDG_CACHE_HOME="$(mktemp -d -t seedship-test-cache.XXXXXX)"
export XDG_CACHE_HOME
trap 'rm -rf "$XDG_CACHE_HOME"' EXIT
cargo test --workspace --all-targets --locked
