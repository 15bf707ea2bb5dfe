/** The parts of s3rver 3.7 (an S3 emulator, no types of its own) that local/aws.ts uses. */
declare module 's3rver' {
  import type { Server } from 'node:http';
  import type { AddressInfo } from 'node:net';

  interface S3rverOptions {
    readonly address?: string;
    /** 0: any free port. */
    readonly port?: number;
    /** Where buckets and objects are kept, as files. */
    readonly directory?: string;
    readonly silent?: boolean;
    /** Buckets created (if missing) when the server starts. */
    readonly configureBuckets?: readonly { readonly name: string; readonly configs?: readonly (string | Buffer)[] }[];
  }

  class S3rver {
    constructor(options?: S3rverOptions);
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
    /** Set by `run`. */
    readonly httpServer?: Server;
  }
  export = S3rver;
}
