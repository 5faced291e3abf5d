/** An S3 error answer: the HTTP status and the fields of S3's `<Error>` document. */
export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra elements S3 adds after Code and Message, such as Key, BucketName or Condition. */
    readonly details: Record<string, string> = {},
  ) {
    super(message);
    this.name = code;
  }
}

export const notImplemented = (what: string): S3Error =>
  new S3Error(
    501,
    "NotImplemented",
    `A header or query you provided implies functionality that is not implemented: ${what}`,
  );

export const invalidArgument = (message: string, name: string, value: string): S3Error =>
  new S3Error(400, "InvalidArgument", message, { ArgumentName: name, ArgumentValue: value });
