import { describe, expect, it } from "vitest";
import { decodeAwsChunked } from "../standin/s3/aws-chunked.js";

const b = (text: string) => Buffer.from(text, "latin1");

describe("decodeAwsChunked (the S3 stand-in's aws-chunked bodies)", () => {
  it("joins the chunks and reads the trailers of the unsigned form", () => {
    const body = b("5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUy7KQ==\r\n\r\n");
    expect(decodeAwsChunked(body)).toEqual({
      payload: b("hello world"),
      trailers: { "x-amz-checksum-crc32": "DUy7KQ==" },
    });
  });

  it("ignores chunk signatures and the trailer signature line's meaning, keeping it as a trailer", () => {
    const body = b(
      "3;chunk-signature=abc\r\nabc\r\n0;chunk-signature=def\r\nx-amz-checksum-sha256:xyz\r\nx-amz-trailer-signature:123\r\n\r\n",
    );
    const decoded = decodeAwsChunked(body);
    expect(decoded.payload).toEqual(b("abc"));
    expect(decoded.trailers).toEqual({ "x-amz-checksum-sha256": "xyz", "x-amz-trailer-signature": "123" });
  });

  it("keeps CR LF inside the data: sizes, not line ends, delimit a chunk", () => {
    expect(decodeAwsChunked(b("4\r\n\r\n\r\n\r\n0\r\n\r\n")).payload).toEqual(b("\r\n\r\n"));
  });

  it.each([
    ["no line end", "5"],
    ["a bad size", "zz\r\nhello\r\n0\r\n\r\n"],
    ["a chunk cut short", "a\r\nhello\r\n"],
    ["a chunk without its CRLF", "5\r\nhelloXX0\r\n\r\n"],
    ["a bad trailer", "0\r\nnot-a-trailer\r\n\r\n"],
  ])("refuses %s with IncompleteBody", (_, text) => {
    expect(() => decodeAwsChunked(b(text))).toThrow(/aws-chunked body is malformed/);
  });
});
