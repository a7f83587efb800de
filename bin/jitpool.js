#!/usr/bin/env node
// Entry point for `npx jitpool`. jitpool runs TypeScript through Node's type stripping, which
// needs Node >= 22.18; the project pins Node 24 through npm, so npm scripts and npx find it first.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(`jitpool needs Node >= 24 (found ${process.versions.node}). Run it through npm (npx jitpool / npm run ...) after npm install, which provides Node 24.`);
  process.exit(1);
}
const { buildProgram } = await import('../src/cli/main.ts');
await buildProgram().parseAsync(process.argv);
