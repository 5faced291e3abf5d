/**
 * The discovery function's code, one definition for the two places that build it: the CDK construct (its
 * asset) and `npm run build:lambda` (dist/lambda/, what the bundle test and benchmark load), so both have
 * the same shape.
 *
 * Code splitting is the point: an ESM entry, `index.mjs`, with what every invocation needs, and chunks
 * under `chunks/` for what is imported with `import()` (the EC2 SDK, lambda/aws/ec2-reads.ts; the SDK's
 * own credential providers). A cold start on an event then reads and evaluates a quarter of the code.
 * NodejsFunction cannot split (it bundles with --outfile), hence a plain asset bundled here.
 */
import { readdirSync, rmSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type BuildOptions, buildSync } from "esbuild";

/** The file the runtime imports; the function's handler is `index.handler`. */
export const ENTRY_FILE = "index.mjs";
const CHUNK_DIR = "chunks";

export function functionBuildOptions(entry: string, outdir: string): BuildOptions {
  return {
    entryPoints: { index: entry },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    // .mjs: the asset has no package.json to say the files are ES modules.
    outExtension: { ".js": ".mjs" },
    chunkNames: `${CHUNK_DIR}/[name]-[hash]`,
    platform: "node",
    target: "node24",
    minify: true,
    sourcemap: true,
    // The SDK's ES module builds: smaller, and what the SDK documents for bundlers.
    mainFields: ["module", "main"],
    // Bundled CommonJS dependencies call require(); give every file of the ESM bundle one.
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
    logLevel: "warning",
    metafile: true,
  };
}

/**
 * Bundles `entry` into `outdir`. Chunk names carry content hashes, so files an earlier build left there
 * are removed: the directory then holds exactly what the build made (only `.mjs` and `.mjs.map` files
 * of the entry and `chunks/` are ever touched).
 */
export function bundleFunction(entry: string, outdir: string): string[] {
  const result = buildSync(functionBuildOptions(entry, outdir));
  const made = new Set(Object.keys(result.metafile?.outputs ?? {}).map((f) => resolve(f)));
  for (const dir of [outdir, join(outdir, CHUNK_DIR)]) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const file = resolve(dir, name);
      if (/\.mjs(\.map)?$/.test(name) && !made.has(file)) rmSync(file);
    }
  }
  return [...made].map((f) => relative(resolve(outdir), f)).sort();
}

// `tsx cdk/function-code.ts ENTRY OUTDIR`: npm run build:lambda.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [entry, outdir] = process.argv.slice(2);
  if (!entry || !outdir) {
    console.error("usage: tsx cdk/function-code.ts ENTRY OUTDIR");
    process.exit(2);
  }
  bundleFunction(entry, outdir);
}
