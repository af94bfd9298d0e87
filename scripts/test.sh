#!/usr/bin/env bash
# The whole test suite: installs what the tests need, then runs every test of the workspace.
# Backends the tests need (Azurite, moto, PostgreSQL) are started by the tests themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
# A skipped storage or database backend is a failure, not a pass.
export SEEDSHIP_TEST_DISALLOW_SKIP=1
cargo test --workspace --all-targets --locked
