/**
 * `Content-Encoding: aws-chunked`: how the SDK streams a body whose checksum it only knows at the end.
 * Each chunk is `HEX-SIZE[;chunk-signature=SIG]\r\nDATA\r\n`; a zero-size chunk ends the data and is
 * followed by trailer lines (`x-amz-checksum-crc32:VALUE\r\n`, `x-amz-trailer-signature:…`) and an empty
 * line. The HTTP layer's own chunking (Transfer-Encoding) is already undone by Node.js.
 */
import { S3Error } from "./errors.js";

export interface DecodedBody {
  payload: Buffer;
  /** Trailer headers, names lower-cased. */
  trailers: Record<string, string>;
}

const CRLF = "\r\n";

const incomplete = (why: string): S3Error =>
  new S3Error(400, "IncompleteBody", `The aws-chunked body is malformed: ${why}`);

export function decodeAwsChunked(raw: Buffer): DecodedBody {
  const chunks: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf(CRLF, at);
    if (eol < 0) throw incomplete("a chunk header has no line end");
    const sizeText = raw.subarray(at, eol).toString("latin1").split(";")[0]?.trim() ?? "";
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw incomplete(`bad chunk size "${sizeText}"`);
    const size = Number.parseInt(sizeText, 16);
    at = eol + CRLF.length;
    if (size === 0) break;
    if (at + size + CRLF.length > raw.length) throw incomplete("a chunk is cut short");
    chunks.push(raw.subarray(at, at + size));
    at += size;
    if (raw.subarray(at, at + CRLF.length).toString("latin1") !== CRLF) {
      throw incomplete("a chunk does not end with CRLF");
    }
    at += CRLF.length;
  }
  return { payload: Buffer.concat(chunks), trailers: parseTrailers(raw, at) };
}

function parseTrailers(raw: Buffer, from: number): Record<string, string> {
  const trailers: Record<string, string> = {};
  let at = from;
  // Signed and unsigned forms both end with an empty line; a body that simply stops there is accepted too.
  while (at < raw.length) {
    const eol = raw.indexOf(CRLF, at);
    const line = raw.subarray(at, eol < 0 ? raw.length : eol).toString("latin1");
    at = eol < 0 ? raw.length : eol + CRLF.length;
    if (line === "") break;
    const colon = line.indexOf(":");
    if (colon <= 0) throw incomplete(`bad trailer line "${line}"`);
    trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return trailers;
}
