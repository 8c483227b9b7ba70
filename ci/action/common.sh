# Helpers sourced by the scripts in ci/action/ (not run on its own). Portable to any CI: GitHub
# files are written only when their variables are set (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
# GITHUB_PATH), annotations only on GitHub Actions (GITHUB_ACTIONS=true).

# The repository the scripts came from (the action's checkout, or a clone of confine).
confine_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# output NAME VALUE: a step output (GITHUB_OUTPUT), multi-line values as NAME<<DELIMITER.
output() {
  [ -n "${GITHUB_OUTPUT:-}" ] || return 0
  if [[ "$2" == *$'\n'* ]]; then
    local delimiter="confine_$RANDOM$RANDOM"
    printf '%s<<%s\n%s\n%s\n' "$1" "$delimiter" "$2" "$delimiter" >>"$GITHUB_OUTPUT"
  else
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  fi
}

# summary FILE…: appended to the job summary (GITHUB_STEP_SUMMARY), when there is one.
summary() {
  [ -n "${GITHUB_STEP_SUMMARY:-}" ] || return 0
  local file
  for file in "$@"; do cat "$file" >>"$GITHUB_STEP_SUMMARY"; echo >>"$GITHUB_STEP_SUMMARY"; done
}

# warn MESSAGE: on stderr, and as a GitHub annotation on GitHub Actions.
warn() {
  echo "confine: warning: $1" >&2
  if [ "${GITHUB_ACTIONS:-}" = true ]; then echo "::warning title=confine::$1"; fi
}

# split_words TEXT: the words of TEXT, one per array element in the global `words`. Quotes and
# backslashes group words as a shell does (xargs), but nothing is expanded or run. Fails (1),
# with xargs' reason on stderr, when the quotes do not pair up: a word silently lost would change
# the run.
split_words() {
  words=()
  [ -n "${1//[[:space:]]/}" ] || return 0
  local word split
  split=$(mktemp)
  if ! printf '%s\n' "$1" | xargs printf '%s\0' >"$split"; then
    rm -f "$split"
    return 1
  fi
  while IFS= read -r -d '' word; do words+=("$word"); done <"$split"
  rm -f "$split"
}

# needs_shell TEXT: whether TEXT needs a shell to mean what it says: operators, expansions,
# globs, a leading NAME=value assignment, a newline.
needs_shell() {
  [[ "$1" == *[\|\&\;\<\>\$\`\*\?\[\~]* || "$1" == *$'\n'* || "$1" =~ ^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*= ]]
}

# as_root COMMAND…: COMMAND as root (cgroups) with the job's whole environment — the suite
# must see what it sees without confine (DATABASE_URL, tokens, the job's env:): as is when this
# is root already (a container), else through `sudo -E` (GitHub's runners allow it), with this
# PATH (sudo's secure_path would replace it). A sudo that refuses -E keeps only a few variables:
# said. The job summary is left out: the scripts write it.
as_root() {
  local path="$PATH"
  if [ "$(id -u)" -eq 0 ]; then
    env -u GITHUB_STEP_SUMMARY "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n -E true 2>/dev/null; then
    sudo -n -E env -u GITHUB_STEP_SUMMARY PATH="$path" "$@"
  elif command -v sudo >/dev/null 2>&1; then
    warn "sudo here does not preserve the environment (-E): the suite gets only HOME, PYTHONPATH, VIRTUAL_ENV, CI and GITHUB_ACTIONS of the job's variables (allow SETENV in sudoers)"
    sudo --preserve-env=HOME,PYTHONPATH,VIRTUAL_ENV,CONFINE_PROFILES,CI,GITHUB_ACTIONS \
      env -u GITHUB_STEP_SUMMARY PATH="$path" "$@"
  else
    echo "confine: needs root (cgroups) and there is no sudo" >&2
    return 125
  fi
}

# give_back PATH…: files root made in this job handed back to the job's own user.
give_back() {
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    sudo chown -R "$(id -u):$(id -g)" "$@" 2>/dev/null || true
  fi
}

# exit_code_of REPORT: the top-level exitCode of a confine JSON report, read by a JSON parser
# (Python's; every runner image has python3), not by the report's layout. Empty when unreadable.
exit_code_of() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["exitCode"])' "$1" 2>/dev/null || true
}
