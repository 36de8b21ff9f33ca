#!/usr/bin/env bash
# Which lines of protocol/ the committed corpora reach: every target's corpus run through
# a coverage build (`cargo fuzz coverage`), the profiles merged, and llvm-cov's report for
# protocol/src (all targets together, then the files). Needs `rustup component add
# llvm-tools` (llvm-cov and llvm-profdata of the compiler's own LLVM version).
#
#   bash fuzz/coverage.sh                  # every target
#   bash fuzz/coverage.sh frame_reader     # some targets
#   SHOW=protocol/src/startup.rs bash fuzz/coverage.sh   # and the uncovered lines of a file
set -euo pipefail
cd "$(dirname "$0")"
host="$(rustc -vV | sed -n 's/^host: //p')"
tools="$(rustc --print sysroot)/lib/rustlib/$host/bin"
if [ ! -x "$tools/llvm-cov" ] || [ ! -x "$tools/llvm-profdata" ]; then
  echo "llvm-cov and llvm-profdata are missing: rustup component add llvm-tools" >&2
  exit 1
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(RUSTC_BOOTSTRAP=1 cargo fuzz list)
fi
binaries=()
profiles=()
for target in "${targets[@]}"; do
  log="$(mktemp)"
  if ! RUSTC_BOOTSTRAP=1 cargo fuzz coverage "$target" "corpus/$target" >"$log" 2>&1; then
    tail -n 30 "$log"
    echo "coverage of $target failed" >&2
    exit 1
  fi
  rm -f "$log"
  binaries+=("target/$host/coverage/$host/release/$target")
  profiles+=("coverage/$target/coverage.profdata")
done
"$tools/llvm-profdata" merge -sparse "${profiles[@]}" -o coverage/all.profdata
objects=("${binaries[0]}")
for binary in "${binaries[@]:1}"; do
  objects+=(-object "$binary")
done
protocol="$(cd ../protocol/src && pwd)"
"$tools/llvm-cov" report "${objects[@]}" -instr-profile=coverage/all.profdata "$protocol"
if [ -n "${SHOW:-}" ]; then
  "$tools/llvm-cov" show "${objects[@]}" -instr-profile=coverage/all.profdata \
    -show-line-counts-or-regions "$(cd .. && pwd)/$SHOW"
fi
