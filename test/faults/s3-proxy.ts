/**
 * An HTTP proxy in front of S3 (the Node.js stand-in or moto) that misbehaves on demand, so the real SDK clients of the engine and
 * the sidecar meet the faults AWS can produce on the wire: error answers, connections cut before or after
 * S3 applied a write, answers that never come, bodies cut short or garbled in transit.
 *
 * It also records every PUT that S3 accepted, so a test can check that no partial or empty object was
 * ever stored, not only that the final state looks right.
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { decodeAwsChunked } from "../standin/s3/aws-chunked.js";

export type S3FaultAction =
  /** Answers with an S3 error document without forwarding (the request never reaches S3). */
  | { kind: "status"; status: 500 | 503; code?: string }
  /** Cuts the connection without forwarding: the request is lost. */
  | { kind: "reset" }
  /** Forwards, lets S3 apply it, then cuts the connection before the answer: the client never hears. */
  | { kind: "applyThenReset" }
  /** Never answers. */
  | { kind: "hang" }
  /** Forwards; sends S3's headers (Content-Length included) and half the body, then cuts the connection. */
  | { kind: "truncateBody" }
  /** Forwards; flips bytes in the body, keeping S3's headers, so the answer looks complete. */
  | { kind: "corruptBody" };

export interface S3FaultRule {
  /** HTTP method; every method when absent. */
  method?: string;
  /** The rule matches object keys starting with this; every key (and bucket-level calls) when absent. */
  keyPrefix?: string;
  action: S3FaultAction;
  /** Fire this many times, then the rule is spent. Unlimited when absent. */
  times?: number;
}

export interface RecordedPut {
  key: string;
  body: string;
  status: number;
}

interface ActiveRule extends S3FaultRule {
  fired: number;
}

export interface S3FaultProxy {
  url: string;
  inject(rule: S3FaultRule): void;
  clear(): void;
  /** How many requests the rules have answered so far. */
  fired(): number;
  /** PUTs that S3 accepted (2xx), in order, with the object body as stored. */
  readonly puts: RecordedPut[];
  close(): Promise<void>;
}

function parseTarget(url: string | undefined, bucket: string): { key?: string } {
  const path = new URL(url ?? "/", "http://proxy").pathname;
  const prefix = `/${bucket}/`;
  if (!path.startsWith(prefix)) return {};
  return { key: decodeURIComponent(path.slice(prefix.length)) };
}

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => resolve(Buffer.concat(chunks)));
    stream.on("error", reject);
  });
}

export async function startS3FaultProxy(upstream: string, bucket: string): Promise<S3FaultProxy> {
  const target = new URL(upstream);
  let rules: ActiveRule[] = [];
  let firedTotal = 0;
  const puts: RecordedPut[] = [];
  const sockets = new Set<Socket>();
  const held = new Set<ServerResponse>();

  // S3 checks If-Match / If-None-Match and stores the object as one step, and so does the Node.js
  // stand-in; moto checks and then stores with no lock between (moto/s3/responses.py), so two conditional
  // PUTs of one key at the same moment can both pass there. Forwarding one conditional PUT per key at a
  // time gives the fault tests S3's behaviour on either implementation.
  const conditionalLanes = new Map<string, Promise<unknown>>();
  const oneAtATime = <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const run = (conditionalLanes.get(key) ?? Promise.resolve()).then(work, work);
    conditionalLanes.set(
      key,
      run.catch(() => {}),
    );
    return run;
  };

  const match = (method: string, key: string | undefined): S3FaultRule | undefined => {
    for (const rule of rules) {
      if (rule.method !== undefined && rule.method !== method) continue;
      if (rule.keyPrefix !== undefined && (key === undefined || !key.startsWith(rule.keyPrefix))) continue;
      if (rule.times !== undefined && rule.fired >= rule.times) continue;
      rule.fired++;
      firedTotal++;
      return rule;
    }
    return undefined;
  };

  const forward = (
    req: IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: IncomingMessage["headers"]; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const out = request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host },
        },
        (res) => {
          readAll(res).then(
            (data) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: data }),
            reject,
          );
        },
      );
      out.on("error", reject);
      out.end(body);
    });

  const server = createServer((req, res) => {
    (async () => {
      const body = await readAll(req);
      const method = req.method ?? "GET";
      const { key } = parseTarget(req.url, bucket);
      const rule = match(method, key);
      const action = rule?.action;
      if (action?.kind === "status") {
        const code = action.code ?? (action.status === 503 ? "SlowDown" : "InternalError");
        res
          .writeHead(action.status, { "content-type": "application/xml" })
          .end(
            `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected by the fault proxy</Message><RequestId>proxy</RequestId></Error>`,
          );
        return;
      }
      if (action?.kind === "reset") {
        req.socket.destroy();
        return;
      }
      if (action?.kind === "hang") {
        held.add(res);
        return;
      }
      const conditional =
        method === "PUT" &&
        key !== undefined &&
        (req.headers["if-match"] !== undefined || req.headers["if-none-match"] !== undefined);
      const answer = conditional ? await oneAtATime(key, () => forward(req, body)) : await forward(req, body);
      if (method === "PUT" && key !== undefined && answer.status >= 200 && answer.status < 300) {
        // With flexible checksums the SDK may send the body aws-chunked, with a trailing checksum; the
        // stored object is the decoded payload, which is what a test wants to look at.
        const encoded = String(req.headers["content-encoding"] ?? "").includes("aws-chunked");
        puts.push({
          key,
          body: (encoded ? decodeAwsChunked(body).payload : body).toString("utf8"),
          status: answer.status,
        });
      }
      if (action?.kind === "applyThenReset") {
        req.socket.destroy();
        return;
      }
      const headers = { ...answer.headers };
      delete headers["transfer-encoding"];
      if (action?.kind === "truncateBody") {
        headers["content-length"] = String(answer.body.byteLength);
        res.writeHead(answer.status, headers);
        res.write(answer.body.subarray(0, Math.floor(answer.body.byteLength / 2)));
        // Let the half body leave before the cut, as a connection dropping mid-transfer would.
        setTimeout(() => req.socket.destroy(), 20);
        return;
      }
      let out = answer.body;
      if (action?.kind === "corruptBody") {
        out = Buffer.from(answer.body);
        for (let i = 0; i < out.length; i += 7) out[i] = (out[i] ?? 0) ^ 0x5a;
      }
      headers["content-length"] = String(out.byteLength);
      res.writeHead(answer.status, headers).end(out);
    })().catch((error: unknown) => {
      if (!res.headersSent && !res.destroyed) res.writeHead(502).end(String(error));
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    inject(rule) {
      rules.push({ ...rule, fired: 0 });
    },
    clear() {
      rules = [];
      for (const res of held) res.socket?.destroy();
      held.clear();
    },
    fired: () => firedTotal,
    puts,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
