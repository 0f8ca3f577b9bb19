// A repository in an S3-compatible bucket (AWS S3, MinIO, versitygw, Ceph RGW ...), through the AWS SDK: the
// standard client, which signs for every such service and brings multipart upload (lib-storage) with abort on
// failure. An object appears under its key only when its upload completes: a failed upload is aborted, and one cut
// short by SIGKILL stays an unfinished multipart upload that no listing shows and `removeIncomplete` aborts.
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestStream, type Measured } from '../digest.ts';
import { checkKey } from './filesystem.ts';
import { ObjectNotFoundError, type ByteRange, type ObjectInfo, type Repository } from './repository.ts';

/**
 * 16 MiB parts, two in flight: at most 32 MiB of an archive is in memory, and the 10,000-part limit of S3 allows
 * archives up to 160 GiB.
 */
const PART_SIZE = 16 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;

export interface S3RepositoryOptions {
  bucket: string;
  /** Key prefix of the repository, without a leading or trailing slash; may be empty. */
  prefix: string;
  /** URL of an S3-compatible service; AWS S3 when absent. */
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

function isNotFound(error: unknown): boolean {
  return error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.name === 'NotFound' || error.$metadata.httpStatusCode === 404);
}

export class S3Repository implements Repository {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(options: S3RepositoryOptions) {
    this.#bucket = options.bucket;
    this.#prefix = options.prefix === '' ? '' : `${options.prefix.replace(/^\/+|\/+$/g, '')}/`;
    this.#client = new S3Client({
      endpoint: options.endpoint,
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      // Explicit credentials: the SDK's default chain would otherwise go looking for instance metadata.
      credentials: options.credentials,
      // Checksums only where S3 requires them: many S3-compatible services reject the newer flexible checksums, and
      // the archive carries its own SHA-256.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
    });
  }

  #key(key: string): string {
    checkKey(key);
    return `${this.#prefix}${key}`;
  }

  async put(key: string, stream: Readable, signal?: AbortSignal): Promise<Measured> {
    const digest = new DigestStream();
    const upload = new Upload({
      client: this.#client,
      params: { Bucket: this.#bucket, Key: this.#key(key), Body: digest },
      partSize: PART_SIZE,
      queueSize: PARTS_IN_FLIGHT,
      leavePartsOnError: false,
    });
    // A failed upload stops reading: end the pipeline too, or it would wait on backpressure for ever.
    const uploading = upload.done().catch((error: unknown) => {
      digest.destroy(error as Error);
      throw error;
    });
    try {
      await pipeline(stream, digest, { signal });
      await uploading;
    } catch (error) {
      // The destroyed body fails the upload, which aborts its multipart upload before it settles.
      await uploading.catch(() => {});
      throw error;
    }
    return digest.result();
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    try {
      const response = await this.#client.send(
        new GetObjectCommand({
          Bucket: this.#bucket,
          Key: this.#key(key),
          Range: range ? `bytes=${range.start}-${range.end ?? ''}` : undefined,
        }),
      );
      return response.Body as Readable;
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFoundError(key);
      throw error;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const found: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.#client.send(
        new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: `${this.#prefix}${prefix}`, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined) found.push({ key: object.Key.slice(this.#prefix.length), size: object.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) }));
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const head = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) }));
      return { key, size: head.ContentLength ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async removeIncomplete(prefix: string): Promise<number> {
    let removed = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await this.#client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.#bucket,
          Prefix: `${this.#prefix}${prefix}`,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
        }),
      );
      for (const upload of page.Uploads ?? []) {
        await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: upload.Key, UploadId: upload.UploadId }));
        removed++;
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return removed;
  }

  location(key: string): string {
    return `s3://${this.#bucket}/${this.#key(key)}`;
  }

  destroy(): void {
    this.#client.destroy();
  }
}
