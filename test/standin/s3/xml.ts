/** The XML documents of the S3 stand-in, element for element as S3 writes them. */
import type { S3Error } from "./errors.js";
import type { StoredObject } from "./store.js";

const NS = "http://s3.amazonaws.com/doc/2006-03-01/";
const PROLOG = '<?xml version="1.0" encoding="UTF-8"?>\n';

/**
 * Element text. S3 writes line breaks and other control characters as character references, so a key
 * holding them survives the client's XML parser, which would otherwise normalise CR LF to LF.
 */
const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

export function escapeXml(text: string): string {
  let out = "";
  for (const c of text) {
    const code = c.charCodeAt(0);
    out += ENTITIES[c] ?? (code < 0x20 ? `&#${code};` : c);
  }
  return out;
}

const el = (name: string, text: string | number | boolean): string =>
  `<${name}>${escapeXml(String(text))}</${name}>`;

/** S3's timestamps in XML: ISO 8601 with milliseconds. */
const iso = (date: Date): string => date.toISOString();

export function errorXml(error: S3Error, requestId: string): string {
  const details = Object.entries(error.details)
    .map(([name, value]) => el(name, value))
    .join("");
  return `${PROLOG}<Error>${el("Code", error.code)}${el("Message", error.message)}${details}${el("RequestId", requestId)}${el("HostId", requestId)}</Error>`;
}

export interface ListV2Page {
  bucket: string;
  prefix: string;
  maxKeys: number;
  objects: StoredObject[];
  truncated: boolean;
  continuationToken?: string | undefined;
  nextContinuationToken?: string | undefined;
  startAfter?: string | undefined;
  /** `encoding-type=url`: keys and prefixes URL-encoded, for keys XML cannot carry. */
  urlEncoded: boolean;
}

/** S3's URL encoding of listed names: form style, `/` kept. */
const urlEncode = (text: string): string =>
  encodeURIComponent(text).replace(/%2F/g, "/").replace(/%20/g, "+");

export function listObjectsV2Xml(page: ListV2Page): string {
  const name = (text: string) => (page.urlEncoded ? urlEncode(text) : text);
  const parts = [
    el("Name", page.bucket),
    el("Prefix", name(page.prefix)),
    page.continuationToken !== undefined ? el("ContinuationToken", page.continuationToken) : "",
    page.nextContinuationToken !== undefined ? el("NextContinuationToken", page.nextContinuationToken) : "",
    el("KeyCount", page.objects.length),
    el("MaxKeys", page.maxKeys),
    page.urlEncoded ? el("EncodingType", "url") : "",
    el("IsTruncated", page.truncated),
    page.startAfter !== undefined ? el("StartAfter", name(page.startAfter)) : "",
    ...page.objects.map(
      (o) =>
        `<Contents>${el("Key", name(o.key))}${el("LastModified", iso(o.lastModified))}${el("ETag", o.etag)}${el("Size", o.body.byteLength)}${el("StorageClass", "STANDARD")}</Contents>`,
    ),
  ];
  return `${PROLOG}<ListBucketResult xmlns="${NS}">${parts.join("")}</ListBucketResult>`;
}

export function listBucketsXml(buckets: { name: string; created: Date }[]): string {
  const items = buckets
    .map((b) => `<Bucket>${el("Name", b.name)}${el("CreationDate", iso(b.created))}</Bucket>`)
    .join("");
  const owner = `<Owner>${el("ID", "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a")}${el("DisplayName", "standin")}</Owner>`;
  return `${PROLOG}<ListAllMyBucketsResult xmlns="${NS}">${owner}<Buckets>${items}</Buckets></ListAllMyBucketsResult>`;
}
