#!/usr/bin/env bash
# jitpool example external provider (garm's external-provider protocol): each "instance" is a
# local process that boots like a machine would — it calls the controller back, fetches its
# runner registration from the metadata URL with its instance token, reports idle and runs
# the runner once. Read docs/providers/external.md first; this is a template for your own
# script (replace "start a local process" with "boot a VM with this userdata").
#
# Protocol (all input from the environment; CreateInstance also reads JSON on stdin):
#   GARM_COMMAND               CreateInstance | DeleteInstance | GetInstance | ListInstances |
#                              RemoveAllInstances | GetVersion | GetSupportedInterfaceVersions
#   GARM_CONTROLLER_ID         the controller; tag everything you create with it
#   GARM_POOL_ID               the pool
#   GARM_INSTANCE_ID           Get/DeleteInstance: the provider_id printed by CreateInstance
#   GARM_PROVIDER_CONFIG_FILE  this script's own config (JSON here, see config.example.json)
#   GARM_INTERFACE_VERSION     v0.1.0 or v0.1.1
# Output: instance JSON on stdout ({provider_id, name, os_type, os_arch, status, …}, status one of
# running | stopped | error | unknown), a JSON array for ListInstances, nothing for deletes.
# Logs go to stderr only. Exit 0 on success, 30 when the instance does not exist, 31 when it
# exists already, anything else on failure. `exit_code` in the instance JSON is a jitpool
# extension (garm ignores it): the runner's exit code once it has exited.
#
# Needs bash, jq, curl, setsid (util-linux). The JIT config never touches argv or a file another
# user can read: the instance token arrives on stdin, reaches the booted process through its
# environment, and the registration files land in a 0700 directory and are removed once read.
set -euo pipefail
umask 077

log() { echo "local-runner: $*" >&2; }
die() { log "$1"; exit "${2:-1}"; }

[ -n "${GARM_COMMAND:-}" ] || die "GARM_COMMAND is not set"
[ -r "${GARM_PROVIDER_CONFIG_FILE:-}" ] || die "GARM_PROVIDER_CONFIG_FILE is not readable"
for tool in jq curl setsid; do command -v "$tool" >/dev/null || die "$tool is required"; done

STATE_DIR=$(jq -er '.stateDir' "$GARM_PROVIDER_CONFIG_FILE") || die "config: stateDir missing"
mkdir -p "$STATE_DIR"

safe_name() { [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]]; }
arch() { case "$(uname -m)" in x86_64) echo amd64 ;; aarch64) echo arm64 ;; *) uname -m ;; esac; }

# The kernel start time of a pid (field 22 of /proc/PID/stat): a recycled pid does not match.
start_ticks() { [ -r "/proc/$1/stat" ] && sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f20; }

is_alive() { # the instance's session leader runs (a zombie waiting for its reaper does not)
  local dir=$1 pid ticks stat
  [ -f "$dir/pid" ] || return 1
  read -r pid ticks < "$dir/pid"
  stat=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "${stat%% *}" != Z ] && [ "$(cut -d' ' -f20 <<<"$stat")" = "$ticks" ]
}

instance_json() {
  local dir=$1 name status exit_code=null
  name=$(basename "$dir")
  if [ -s "$dir/exit" ]; then
    status=stopped
    exit_code=$(cat "$dir/exit")
  elif is_alive "$dir"; then
    status=running
  elif [ -s "$dir/exit" ]; then # it exited between the two looks
    status=stopped
    exit_code=$(cat "$dir/exit")
  elif [ -f "$dir/pid" ]; then
    status=stopped # gone without recording an exit code (killed, host rebooted)
  else
    status=running # CreateInstance is still starting it
  fi
  jq -cn --arg name "$name" --arg status "$status" --arg arch "$(arch)" --argjson exit "$exit_code" \
    '{provider_id: $name, name: $name, os_type: "linux", os_name: "local process", os_arch: $arch, status: $status, exit_code: $exit}'
}

ours() { # dir: does this instance belong to this controller (and pool, when $2 = pool)?
  local meta="$1/meta.json"
  [ -f "$meta" ] || return 1
  jq -e --arg c "$GARM_CONTROLLER_ID" --arg p "${GARM_POOL_ID:-}" --arg scope "${2:-}" \
    '.controller_id == $c and ($scope != "pool" or .pool_id == $p)' "$meta" >/dev/null
}

stop_instance() {
  local dir=$1 pid ticks i
  if is_alive "$dir"; then
    read -r pid ticks < "$dir/pid"
    # The instance is its own session and process group (setsid): signal all of it.
    kill -TERM -- "-$pid" 2>/dev/null || true
    for i in $(seq 1 100); do is_alive "$dir" || break; sleep 0.1; done
    # Whatever of the group outlived its leader (or the grace period) goes now.
    kill -KILL -- "-$pid" 2>/dev/null || true
    for i in $(seq 1 50); do is_alive "$dir" || break; sleep 0.1; done
    if is_alive "$dir"; then die "instance $(basename "$dir") survived SIGKILL"; fi
  fi
  rm -rf -- "$dir"
}

# ---- the "machine": what a VM's userdata would do after boot --------------------------------
boot() {
  local dir=$1 payload
  # The token reaches curl through its config on stdin (printf is a builtin): never in an argv.
  auth() { printf 'header = "Authorization: Bearer %s"\n' "$INSTANCE_TOKEN"; }
  call() { # status message
    payload=$(jq -cn --arg s "$1" --arg m "$2" '{status: $s, message: $m}')
    auth | curl -K - --retry 5 --retry-delay 1 --retry-connrefused --fail -s -X POST -H 'Accept: application/json' \
      -d "$payload" "$CALLBACK_URL/status/" >/dev/null || log "cannot call home ($?)"
  }
  fetch() { # path file
    auth | curl -K - --retry 5 --retry-delay 1 --retry-connrefused --fail -s -o "$2" "$METADATA_URL/$1"
  }
  record_exit() { echo "$1" > "$dir/exit.tmp" && mv "$dir/exit.tmp" "$dir/exit"; }
  finish() { record_exit "$1"; exit "$1"; }

  call installing "fetching the runner registration"
  mkdir -p "$dir/registration" "$dir/work"
  for file in runner credentials credentials_rsaparams; do
    if ! fetch "credentials/$file" "$dir/registration/.$file"; then
      # The exit code is recorded before the report, so whoever hears "failed" can read it.
      record_exit 1
      call failed "could not fetch .$file"
      exit 1
    fi
  done
  # The runner's JIT input: base64 of a JSON map from file name to base64 content (what GitHub hands out).
  # jq reads the files itself (--rawfile): their contents never pass through an argv.
  ACTIONS_RUNNER_INPUT_JITCONFIG=$(cd "$dir/registration" && jq -cnj \
    --rawfile r .runner --rawfile c .credentials --rawfile k .credentials_rsaparams \
    '{".runner": ($r | @base64), ".credentials": ($c | @base64), ".credentials_rsaparams": ($k | @base64)}' | base64 -w0)
  export ACTIONS_RUNNER_INPUT_JITCONFIG
  rm -rf -- "$dir/registration"
  call idle "runner starting"
  unset INSTANCE_TOKEN

  local -a runner
  mapfile -t runner < <(jq -r '.runnerCommand[]' "$GARM_PROVIDER_CONFIG_FILE")
  [ "${#runner[@]}" -gt 0 ] || finish 1
  set +e
  (cd "$dir/work" && exec "${runner[@]}") &
  local child=$! code
  # A delete's SIGTERM reaches the runner too (same process group); this shell waits for it, so
  # the instance counts as running until the runner itself is gone.
  trap 'kill -TERM "$child" 2>/dev/null' TERM INT
  while true; do
    wait "$child"
    code=$?
    kill -0 "$child" 2>/dev/null || break # a trapped signal interrupted wait: the runner still runs
  done
  finish "$code"
}

# ---- the protocol ---------------------------------------------------------------------------
case "$GARM_COMMAND" in
  CreateInstance)
    bootstrap=$(cat)
    name=$(jq -er '.name' <<<"$bootstrap") || die "no name in the bootstrap parameters"
    safe_name "$name" || die "unsafe instance name"
    dir="$STATE_DIR/$name"
    mkdir "$dir" 2>/dev/null || exit 31 # duplicate
    jq -c --arg c "$GARM_CONTROLLER_ID" '{name, pool_id, labels, controller_id: $c}' <<<"$bootstrap" > "$dir/meta.json"
    export METADATA_URL CALLBACK_URL INSTANCE_TOKEN
    METADATA_URL=$(jq -er '."metadata-url"' <<<"$bootstrap")
    CALLBACK_URL=$(jq -er '."callback-url"' <<<"$bootstrap")
    INSTANCE_TOKEN=$(jq -er '."instance-token"' <<<"$bootstrap")
    # Its own session, no terminal, our pipes closed: it outlives this command (and the controller).
    GARM_COMMAND=__boot setsid "$0" "$dir" </dev/null >>"$dir/console.log" 2>&1 &
    pid=$!
    echo "$pid $(start_ticks "$pid")" > "$dir/pid"
    instance_json "$dir"
    ;;
  __boot)
    boot "$1"
    ;;
  GetInstance)
    safe_name "${GARM_INSTANCE_ID:-}" || exit 30
    dir="$STATE_DIR/$GARM_INSTANCE_ID"
    ours "$dir" || exit 30
    instance_json "$dir"
    ;;
  ListInstances)
    for dir in "$STATE_DIR"/*/; do
      dir=${dir%/}
      if [ -d "$dir" ] && ours "$dir" pool; then instance_json "$dir"; fi
    done | jq -cs '.'
    ;;
  DeleteInstance)
    safe_name "${GARM_INSTANCE_ID:-}" || exit 30
    dir="$STATE_DIR/$GARM_INSTANCE_ID"
    ours "$dir" || exit 30
    stop_instance "$dir"
    ;;
  RemoveAllInstances)
    for dir in "$STATE_DIR"/*/; do
      dir=${dir%/}
      if [ -d "$dir" ] && ours "$dir"; then stop_instance "$dir"; fi
    done
    ;;
  GetVersion)
    echo "v0.1.0"
    ;;
  GetSupportedInterfaceVersions)
    echo '["v0.1.0","v0.1.1"]'
    ;;
  *)
    die "unsupported GARM_COMMAND $GARM_COMMAND"
    ;;
esac
