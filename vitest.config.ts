import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // `*.moto.test.ts` need python3's moto; `npm run test:moto` (vitest.moto.config.ts) runs them.
    exclude: [...configDefaults.exclude, "**/*.moto.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration suites start emulators on loopback ports; two cores, so keep parallelism modest.
    maxWorkers: 2,
  },
});
