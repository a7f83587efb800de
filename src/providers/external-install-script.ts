import { JitpoolError, isSafeLabel, isSafeRunnerName } from '../core/index.ts';
import type { RunnerTool } from './external-protocol.ts';

/**
 * The install script served at `<metadata-url>/install-script/` (garm's wrapper userdata fetches
 * and runs it as root on a freshly booted machine) and the systemd unit at
 * `/systemd/unit-file`. Every value pasted into them is validated first (names, labels, users,
 * URLs, digests) and then single-quoted, so nothing an instance, a pool or a job controls can
 * break out of its string: garm's own templates paste them between double quotes, where `$(…)`
 * would run.
 */

/** What one instance's install script needs. */
export interface InstallScriptInput {
  runnerName: string;
  labels: readonly string[];
  metadataUrl: string;
  callbackUrl: string;
  /** The instance token (secret): only ever in the script body, served to that instance over its token. */
  token: string;
  /** The runner package to install when the image has none (first of the pool's tools). */
  tool: RunnerTool | null;
  /** The OS user the runner runs as. @default runner */
  runAsUser?: string;
}

const USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** True for a user name safe in a path, a unit file and a shell command. */
export function isSafeUserName(user: string): boolean {
  return USER.test(user);
}

/** `value` as one single-quoted shell word. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Throws `JP_INPUT_INVALID` unless `url` is an absolute http(s) URL with no whitespace or quotes. */
export function assertSafeUrl(url: string, what: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new JitpoolError('JP_INPUT_INVALID', `${what}: not a URL`);
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || /[\s"'`\\$<>]/.test(url) || [...url].some((char) => char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f)) {
    throw new JitpoolError('JP_INPUT_INVALID', `${what}: only plain http(s) URLs are pasted into instance scripts`);
  }
  return url;
}

function assertInput(input: InstallScriptInput): void {
  if (!isSafeRunnerName(input.runnerName)) throw new JitpoolError('JP_INPUT_INVALID', 'install script: unsafe runner name');
  if (!input.labels.every(isSafeLabel)) throw new JitpoolError('JP_INPUT_INVALID', 'install script: unsafe label');
  if (!isSafeUserName(input.runAsUser ?? 'runner')) throw new JitpoolError('JP_INPUT_INVALID', 'install script: unsafe user name');
  assertSafeUrl(input.metadataUrl, 'metadata URL');
  assertSafeUrl(input.callbackUrl, 'callback URL');
  if (!/^[A-Za-z0-9_.-]+$/.test(input.token)) throw new JitpoolError('JP_INPUT_INVALID', 'install script: malformed instance token');
  if (input.tool) {
    assertSafeUrl(input.tool.download_url, 'runner download URL');
    if (!FILE_NAME.test(input.tool.filename)) throw new JitpoolError('JP_INPUT_INVALID', 'install script: unsafe runner file name');
    if (input.tool.sha256_checksum !== undefined && !SHA256.test(input.tool.sha256_checksum)) throw new JitpoolError('JP_INPUT_INVALID', 'install script: malformed SHA-256');
  }
}

/** Renders the install script for one instance (bash, Linux, JIT registration). */
export function renderInstallScript(input: InstallScriptInput): string {
  assertInput(input);
  const user = input.runAsUser ?? 'runner';
  const q = shellQuote;
  const tool = input.tool;
  return `#!/bin/bash
# jitpool install script for ${input.runnerName} (served once per instance, while it is installing).
set -eu
set -o pipefail
umask 077

METADATA_URL=${q(input.metadataUrl)}
CALLBACK_URL=${q(input.callbackUrl.replace(/\/status\/?$/, ''))}
BEARER_TOKEN=${q(input.token)}
RUNNER_NAME=${q(input.runnerName)}
RUNNER_USER=${q(user)}
RUN_HOME="/home/$RUNNER_USER/actions-runner"
TOOL_URL=${q(tool?.download_url ?? '')}
TOOL_FILE=${q(tool?.filename ?? '')}
TOOL_SHA256=${q(tool?.sha256_checksum ?? '')}

json_string() { jq -Rn --arg v "$1" '$v'; }
# The token reaches curl through its config on stdin (printf is a builtin): never in an argv.
auth() { printf 'header = "Authorization: Bearer %s"\\n' "$BEARER_TOKEN"; }
call() {
  auth | curl -K - --retry 5 --retry-delay 5 --retry-connrefused --fail -s -X POST -H 'Accept: application/json' \\
    -d "{\\"status\\": \\"$1\\", \\"message\\": $(json_string "$2")}" "$CALLBACK_URL/status/" || echo "failed to call home ($?)" >&2
}
status() { call installing "$1"; }
fail() { call failed "$1"; exit 1; }
fetch() {
  auth | curl -K - --retry 5 --retry-delay 5 --retry-connrefused --fail -s "$METADATA_URL/$1" -o "$2"
}

command -v jq >/dev/null || { echo 'jq is required (apt-get install jq)' >&2; exit 1; }
id "$RUNNER_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$RUNNER_USER" || fail "cannot create user $RUNNER_USER"

if [ ! -x "$RUN_HOME/bin/Runner.Listener" ]; then
  [ -n "$TOOL_URL" ] || fail "no runner in $RUN_HOME and the pool lists no runner package"
  status "downloading $TOOL_FILE"
  mkdir -p "$RUN_HOME"
  curl --retry 5 --retry-delay 5 --retry-connrefused --fail -sL -o "/tmp/$TOOL_FILE" "$TOOL_URL" || fail "failed to download the runner"
  if [ -n "$TOOL_SHA256" ]; then
    echo "$TOOL_SHA256  /tmp/$TOOL_FILE" | sha256sum -c - >/dev/null || fail "runner package checksum mismatch"
  fi
  tar xzf "/tmp/$TOOL_FILE" -C "$RUN_HOME" || fail "failed to extract the runner"
  rm -f "/tmp/$TOOL_FILE"
fi

status "downloading JIT credentials"
fetch credentials/runner "$RUN_HOME/.runner" || fail "failed to get the runner file"
fetch credentials/credentials "$RUN_HOME/.credentials" || fail "failed to get the credentials file"
fetch credentials/credentials_rsaparams "$RUN_HOME/.credentials_rsaparams" || fail "failed to get the credentials_rsaparams file"
chown -R "$RUNNER_USER:" "$RUN_HOME"
chmod 600 "$RUN_HOME/.runner" "$RUN_HOME/.credentials" "$RUN_HOME/.credentials_rsaparams"

SVC_NAME="$(auth | curl -K - --retry 5 --fail -s "$METADATA_URL/system/service-name/").service"
case "$SVC_NAME" in *[!A-Za-z0-9._-]*) fail "unexpected service name" ;; esac
status "installing $SVC_NAME"
fetch "systemd/unit-file/?runAsUser=$RUNNER_USER" "/etc/systemd/system/$SVC_NAME" || fail "failed to get the unit file"
chmod 644 "/etc/systemd/system/$SVC_NAME"
systemctl daemon-reload || fail "systemctl daemon-reload failed"
systemctl start "$SVC_NAME" || fail "failed to start $SVC_NAME"
# The labels (${input.labels.join(',')}) are in the JIT registration; nothing to configure here.
call idle "runner $RUNNER_NAME started"
`;
}

/** The systemd unit running the runner once (`Runner.Listener run`: its exit code is visible, no restart). */
export function renderSystemdUnit(serviceName: string, runAsUser: string): string {
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(serviceName)) throw new JitpoolError('JP_INPUT_INVALID', 'unit file: unsafe service name');
  if (!isSafeUserName(runAsUser)) throw new JitpoolError('JP_INPUT_INVALID', 'unit file: unsafe runAsUser');
  return `[Unit]
Description=GitHub Actions Runner (${serviceName})
After=network-online.target

[Service]
ExecStart=/home/${runAsUser}/actions-runner/bin/Runner.Listener run
User=${runAsUser}
WorkingDirectory=/home/${runAsUser}/actions-runner
Environment=ACTIONS_RUNNER_INPUT_DISABLEUPDATE=true
Environment=ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE=1
KillMode=process
KillSignal=SIGTERM
TimeoutStopSec=5min
# One job, then the machine is done: jitpool destroys it once the runner has exited.
ExecStopPost=/bin/sh -c 'echo "jitpool: runner exited with $EXIT_STATUS" > /dev/console || true'

[Install]
WantedBy=multi-user.target
`;
}
