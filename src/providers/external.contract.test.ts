import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { argvOf, pidsWithArgv, processTree } from './process-test-helpers.ts';
import { defineProviderContract } from './provider-contract.ts';
import { instancePid, makeExternalProvider, makeScratch } from './external-test-helpers.ts';

// The shipped example script (examples/external/local-runner.sh) as the operator's command: each
// instance boots as a local process that fetches its registration from the provider's metadata
// listener with its instance token, then runs the fake runner. Both controllers share one state
// dir, so the isolation test is a real one.
const scratch = makeScratch();

defineProviderContract('external (example script)', {
  make: (controllerId) => makeExternalProvider(scratch, controllerId),
  capturesOutput: false,
  async argvOf(computeId) {
    const pid = instancePid(scratch, computeId);
    return pid === null ? [] : processTree(pid).flatMap(argvOf);
  },
  async leftovers(computeId) {
    const records = join(scratch.root, 'records');
    const recordFiles = existsSync(records) ? readdirSync(records).map((controller) => join(records, controller, `${computeId}.json`)) : [];
    // The booted instance's shell carries its directory in its argv: none may be left running.
    const processes = pidsWithArgv(join(scratch.stateDir, computeId)).map((pid) => `pid ${pid}`);
    return [join(scratch.stateDir, computeId), ...recordFiles].filter((path) => existsSync(path)).concat(processes);
  },
  async teardown() {
    scratch.remove();
  },
});
