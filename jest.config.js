/** ts-jest transpiles only (isolatedModules); `tsc --noEmit` in `npm test` does the type checking once. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { isolatedModules: true, diagnostics: false }] },
  testTimeout: 120000,
};
