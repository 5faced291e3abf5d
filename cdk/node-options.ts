/**
 * The function's `NODE_OPTIONS`, derived from its memory size. Dependency-free, so the benchmark starts its
 * engine process with exactly what the construct deploys.
 *
 * V8 sizes its heap from the machine's memory and lets garbage pile up until it is close to that limit; in
 * a Lambda sandbox the young generation alone (16 MB semi-spaces by default on 64-bit) and an old space
 * sized for a larger machine made a 50,000-task reconcile peak at 440 MB RSS where its live data needs far
 * less. An old space at 60 % of the function's memory leaves room for the code, buffers and the SDK's
 * sockets outside the heap, and small semi-spaces make short-lived garbage (each DescribeTasks page) die
 * young instead of being promoted: measured with `npm run bench -- --only reconcile-50k`, 219 MB cold and
 * 233 MB warm at the default 512 MB.
 */
/** The function's memory when the deployment does not choose one (MB). */
export const DEFAULT_MEMORY_MB = 512;

export function nodeOptionsFor(memorySizeMb: number): string {
  const oldSpace = Math.floor(memorySizeMb * 0.6);
  const semiSpace = Math.max(2, Math.min(16, Math.floor(memorySizeMb / 128)));
  return `--enable-source-maps --max-old-space-size=${oldSpace} --max-semi-space-size=${semiSpace}`;
}
