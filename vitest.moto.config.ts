import { configDefaults, defineConfig } from "vitest/config";

/**
 * `npm run test:moto`: the tests that need python3's moto (`*.moto.test.ts`), and the S3 suites again with
 * moto as the S3 (S3_STANDIN=moto), so the Node.js stand-in and moto are held to the same contract.
 * Without moto these fail with the reason (test/support/moto.ts); they never skip.
 */
export default defineConfig({
  test: {
    include: [
      "test/**/*.moto.test.ts",
      "test/integration/s3-contract.test.ts",
      "test/integration/sidecar-s3.test.ts",
      "test/integration/sidecar-cli.test.ts",
      "test/integration/sidecar-buckets.test.ts",
    ],
    exclude: [...configDefaults.exclude],
    env: { S3_STANDIN: "moto" },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
  },
});
