#!/usr/bin/env node
// Runs the TypeScript CLI and lets it require users' .ts model files directly (tsx).
require("tsx/cjs");
require("../src/cli/main.ts").main(process.argv.slice(2));
