#!/usr/bin/env bash
# The command step of pilothouse's GitHub Action (../action.yml): runs
# `pilothouse COMMAND` and writes the step's outputs to $GITHUB_OUTPUT.
#
# Inputs arrive as environment variables, never pasted into the script by
# `${{ }}` (no script injection): PILOTHOUSE_COMMAND (words, split on blanks;
# no shell globbing: pilothouse expands its own patterns), PILOTHOUSE_SHARD
# (I/N: print that shard's tests instead of the matrix), PILOTHOUSE_SHARD_FORMAT
# (pytest or nextest), PILOTHOUSE_CREATE_STORE (true: create or upgrade the
# store first, so a first run's readers find one).
set -euo pipefail
set -f

read -ra words <<< "${PILOTHOUSE_COMMAND:?the action needs a command input}"
if [ "${#words[@]}" -eq 0 ]; then
  echo "pilothouse action: the command input is empty" >&2
  exit 2
fi
out_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/pilothouse-${GITHUB_ACTION:-action}"
mkdir -p "$out_dir"
output="$out_dir/output.txt"
echo "output=$output" >> "$GITHUB_OUTPUT"

if [ "${PILOTHOUSE_CREATE_STORE:-true}" = "true" ]; then
  pilothouse db upgrade > /dev/null
fi

formatted=false  # a command that names its own format prints it as it is
for word in "${words[@]}"; do
  case "$word" in --format | --format=* | --json) formatted=true ;; esac
done

if [ "${words[0]}" = "shard" ] && [ "$formatted" = false ] && [ -n "${PILOTHOUSE_SHARD:-}" ]; then
  tests="$out_dir/shard-tests.txt"
  pilothouse "${words[@]}" --shard "$PILOTHOUSE_SHARD" \
    --format "${PILOTHOUSE_SHARD_FORMAT:-pytest}" > "$tests"
  cp "$tests" "$output"
  echo "tests=$tests" >> "$GITHUB_OUTPUT"
elif [ "${words[0]}" = "shard" ] && [ "$formatted" = false ]; then
  pilothouse "${words[@]}" --format github-matrix > "$output"
  # One line of JSON: what `fromJSON` turns into strategy.matrix.
  echo "matrix=$(cat "$output")" >> "$GITHUB_OUTPUT"
else
  pilothouse "${words[@]}" | tee "$output"
fi
