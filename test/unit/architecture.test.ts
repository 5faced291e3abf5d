/**
 * The rules of ARCHITECTURE.md, checked on the import graph of lambda/, sidecar/ and cdk/: the core is
 * pure, the shared contracts depend on nothing, runtime code never imports CDK, the sidecar shares only
 * lambda/shared/ with the function, and no module imports itself through others.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "../..");

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g;

/** Every module a file names: project files as paths from the root, packages by name. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const found: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = (m[1] ?? m[2]) as string;
    found.push(
      spec.startsWith(".")
        ? relative(ROOT, resolve(ROOT, dirname(file), spec)).replace(/\.js$/, ".ts")
        : spec,
    );
  }
  return found;
}

const FILES = ["lambda", "sidecar", "cdk"].flatMap(sourceFiles);
const GRAPH = new Map(FILES.map((f) => [f, importsOf(f)]));

function violations(from: (file: string) => boolean, allowed: (dep: string) => boolean): string[] {
  return [...GRAPH].flatMap(([file, deps]) =>
    from(file) ? deps.filter((d) => !allowed(d)).map((d) => `${file} → ${d}`) : [],
  );
}

const under = (dir: string) => (path: string) => path.startsWith(`${dir}/`);
const builtin = (dep: string) => dep.startsWith("node:");

describe("architecture", () => {
  it("reads a graph that is there", () => {
    expect(GRAPH.size).toBeGreaterThan(40);
    expect(GRAPH.get("lambda/handler.ts")).toContain("lambda/compose.ts");
  });

  it("keeps lambda/shared/ dependency-free: Node.js built-ins and each other only", () => {
    expect(violations(under("lambda/shared"), (d) => builtin(d) || under("lambda/shared")(d))).toEqual([]);
  });

  it("keeps the core pure: lambda/core/ imports only lambda/core/ and lambda/shared/", () => {
    const allowed = (d: string) => under("lambda/core")(d) || under("lambda/shared")(d) || d === "node:net";
    expect(violations(under("lambda/core"), allowed)).toEqual([]);
  });

  it("lets the sidecar share only lambda/shared/ with the function", () => {
    const allowed = (d: string) =>
      under("sidecar")(d) ||
      under("lambda/shared")(d) ||
      builtin(d) ||
      d === "@aws-sdk/client-s3" ||
      d === "prom-client";
    expect(violations(under("sidecar"), allowed)).toEqual([]);
  });

  it("never imports CDK from runtime code", () => {
    const cdk = (d: string) => under("cdk")(d) || /^(aws-cdk-lib|constructs|cdk-nag)(\/|$)/.test(d);
    const runtime = (f: string) => under("lambda")(f) || under("sidecar")(f);
    expect(violations(runtime, (d) => !cdk(d))).toEqual([]);
  });

  it("has no import cycles", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "open") {
        cycles.push([...path.slice(path.indexOf(file)), file].join(" → "));
        return;
      }
      state.set(file, "open");
      for (const dep of GRAPH.get(file) ?? []) if (GRAPH.has(dep)) visit(dep, [...path, file]);
      state.set(file, "done");
    };
    for (const file of GRAPH.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
