/**
 * The part of an SDK client's middleware stack this project plugs into: counting every attempt and pacing
 * it to AWS's token buckets. Both sit next to request signing, which the retry middleware runs again for
 * every attempt, so each HTTP request (retries included) passes through them once.
 */
export interface MiddlewareClient {
  middlewareStack: {
    addRelativeTo(
      middleware: (
        next: (args: unknown) => Promise<unknown>,
        context: { commandName?: string },
      ) => (args: unknown) => Promise<unknown>,
      options: { relation: "before" | "after"; toMiddleware: string; name: string },
    ): void;
  };
}

/** The API operation of a command (`ListTasksCommand` → `ListTasks`). */
export function operationOf(context: { commandName?: string }): string {
  return (context.commandName ?? "Unknown").replace(/Command$/, "");
}
