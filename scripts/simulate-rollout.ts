// Simulated canary rollout: 36 trusted PRs through stages 0–2 with a runner boot fault injected
// in stage 1 (PRs 5 and 6), showing when the guard rolled back. Run: npx node scripts/simulate-rollout.ts
import { formatRollout, simulateRollout } from '../src/guard/rollout.ts';

console.log(formatRollout(await simulateRollout({ prs: 36, faultyPrs: [5, 6] })));
