import { benchScale, benchSustained } from './scenarios.ts';
import { benchSustainedAlone } from './sustained-alone.ts';

/**
 * Runs one memory-sensitive scenario in a fresh process (`node bench/child.ts scale 1000`), so
 * RSS reflects that scenario alone and not what earlier scenarios left on the heap.
 */
const [scenario, ...args] = process.argv.slice(2);
if (scenario === 'scale') {
  const [result] = await benchScale([Number(args[0])]);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else if (scenario === 'sustained') {
  const [jobsPerHour, concurrent, seconds] = args.map(Number);
  process.stdout.write(`${JSON.stringify(await benchSustained({ jobsPerHour: jobsPerHour!, concurrent: concurrent!, seconds: seconds! }))}\n`);
} else if (scenario === 'sustained-alone') {
  const [jobsPerHour, concurrent, seconds] = args.map(Number);
  process.stdout.write(`${JSON.stringify(await benchSustainedAlone({ jobsPerHour: jobsPerHour!, concurrent: concurrent!, seconds: seconds! }))}\n`);
} else {
  throw new Error(`unknown scenario ${scenario}`);
}
