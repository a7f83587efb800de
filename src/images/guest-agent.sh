#!/bin/sh
# jitpool-agent: the guest side of a machine runner (nspawn machine or VM), installed in the base
# image as /usr/local/bin/jitpool-agent. It is the machine's payload (nspawn) or is started by the
# guest's init (VM), as root.
#
#   1. reads the JIT config from /run/jitpool/jitconfig and deletes it at once;
#   2. runs /home/runner/actions-runner/bin/Runner.Listener run as the non-root user `runner`,
#      with the JIT config in ACTIONS_RUNNER_INPUT_JITCONFIG (never on a command line);
#   3. prints `jitpool-agent: runner exited <code>` on stdout (the console), writes the code to
#      /run/jitpool/exit-code, and ends the machine: as an nspawn payload it exits with the
#      runner's code; in a VM (JITPOOL_AGENT_POWEROFF=1, or PID 1) it powers off.
#
# POSIX sh only (Debian's dash, busybox ash). Environment the host sets (none of it secret):
# RUNNER_NAME, ACTIONS_RUNNER_INPUT_* flags; JITPOOL_AGENT_DIR overrides /run/jitpool (tests).
set -u

dir="${JITPOOL_AGENT_DIR:-/run/jitpool}"
listener="${JITPOOL_AGENT_LISTENER:-/home/runner/actions-runner/bin/Runner.Listener}"
user="${JITPOOL_AGENT_USER:-runner}"
say() { echo "jitpool-agent: $*"; }

finish() {
  code="$1"
  say "runner exited $code"
  echo "$code" > "$dir/exit-code.tmp" 2>/dev/null && mv -f "$dir/exit-code.tmp" "$dir/exit-code"
  if [ "${JITPOOL_AGENT_POWEROFF:-0}" = 1 ] || [ "$$" = 1 ] && [ "${JITPOOL_AGENT_POWEROFF:-}" != 0 ]; then
    sync
    poweroff -f
  fi
  exit "$code"
}

# A stop that arrives before the runner started ends the agent before it starts one.
child=""
stopping=0
trap 'stopping=1' TERM INT HUP

if [ ! -r "$dir/jitconfig" ]; then
  say "no JIT config at $dir/jitconfig"
  finish 1
fi
ACTIONS_RUNNER_INPUT_JITCONFIG="$(cat "$dir/jitconfig")"
rm -f "$dir/jitconfig"
if [ -z "$ACTIONS_RUNNER_INPUT_JITCONFIG" ]; then
  say "the JIT config at $dir/jitconfig is empty"
  finish 1
fi
export ACTIONS_RUNNER_INPUT_JITCONFIG

uid="$(id -u "$user" 2>/dev/null)" || { say "no user $user in this image"; finish 1; }
gid="$(id -g "$user")"
home="$(awk -F: -v u="$user" '$1 == u { print $6 }' /etc/passwd)"
[ -n "$home" ] || home="/home/$user"
[ -x "$listener" ] || { say "no runner at $listener"; finish 1; }
cd "$home" 2>/dev/null || cd /
export HOME="$home" USER="$user" LOGNAME="$user"
export PATH="${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}"

# The runner gets SIGTERM when the machine is stopped (the host's graceful delete): it cancels its
# job and exits 1. The agent waits for it either way and reports what it saw.
# Passed on once: the host repeats its SIGTERM until the agent has a handler, and a second one
# could make the runner abandon its graceful stop.
forwarded=0
forward() {
  stopping=1
  if [ -n "$child" ] && [ "$forwarded" = 0 ]; then
    forwarded=1
    kill -TERM "$child" 2>/dev/null
  fi
}
trap forward TERM INT HUP
if [ "$stopping" = 1 ]; then
  say "stopped before the runner started"
  finish 1
fi

# Drop to the runner user: util-linux setpriv (Debian images), else su (busybox, any image).
if [ "$(id -u)" != 0 ]; then
  "$listener" run &
elif setpriv --help 2>&1 | grep -q -- --reuid; then
  setpriv --reuid="$uid" --regid="$gid" --init-groups -- "$listener" run &
else
  su -p -s /bin/sh -c 'exec "$0" run' "$user" "$listener" &
fi
child=$!
code=0
while :; do
  wait "$child"
  code=$?
  # wait returns > 128 when a trapped signal interrupted it; the runner may still be running.
  kill -0 "$child" 2>/dev/null || break
done
finish "$code"
