#!/usr/bin/env node
// Runs the TypeScript CLI and lets it require users' .ts model files directly (tsx).
require("tsx/cjs");
const argv = process.argv.slice(2);
// `alexc train` re-runs itself under malloc tunables that keep freed memory for reuse (src/cli/malloc-tuning.ts).
if (!require("../src/cli/malloc-tuning.ts").relaunchWithMallocTuning(argv, __filename)) {
  require("../src/cli/main.ts").main(argv);
}
