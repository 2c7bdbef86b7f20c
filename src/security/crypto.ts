import crypto from 'node:crypto';

const FORMAT_VERSION = 1;
const KEY_ID_BYTES = 4;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + KEY_ID_BYTES + IV_BYTES + TAG_BYTES;

interface Key {
  id: Buffer;
  secret: Buffer;
}

function parseKey(base64: string, variable: string): Key {
  const secret = Buffer.from(base64.trim(), 'base64');
  if (secret.length !== 32) {
    throw new Error(`${variable} must be 32 random bytes in base64 (openssl rand -base64 32)`);
  }
  const id = crypto.createHash('sha256').update('mcp-key-id:').update(secret).digest().subarray(0, KEY_ID_BYTES);
  return { id, secret };
}

/**
 * AES-256-GCM for secrets at rest. Each ciphertext is
 * `version | key id | iv | tag | ciphertext`; the key id lets keys listed as previous
 * still decrypt after a rotation, and tells which rows still need re-encrypting.
 */
export class SecretBox {
  readonly #current: Key;
  readonly #keys: Key[];

  constructor(currentKey: string, previousKeys: string[] = []) {
    this.#current = parseKey(currentKey, 'DB_ENCRYPTION_KEY');
    this.#keys = [this.#current, ...previousKeys.map((k) => parseKey(k, 'DB_ENCRYPTION_KEYS_PREVIOUS'))];
  }

  static fromConfig(current: string, previous: string | undefined): SecretBox {
    return new SecretBox(
      current,
      (previous ?? '').split(',').map((k) => k.trim()).filter(Boolean),
    );
  }

  seal(value: unknown): Uint8Array<ArrayBuffer> {
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.#current.secret, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    const out = new Uint8Array(HEADER_BYTES + body.length);
    out[0] = FORMAT_VERSION;
    out.set(this.#current.id, 1);
    out.set(iv, 1 + KEY_ID_BYTES);
    out.set(cipher.getAuthTag(), 1 + KEY_ID_BYTES + IV_BYTES);
    out.set(body, HEADER_BYTES);
    return out;
  }

  open<T>(blob: Uint8Array): T {
    const data = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
    if (data.length < HEADER_BYTES || data[0] !== FORMAT_VERSION) throw new Error('unreadable ciphertext');
    const keyId = data.subarray(1, 1 + KEY_ID_BYTES);
    const key = this.#keys.find((k) => k.id.equals(keyId));
    if (!key) throw new Error('ciphertext was sealed with a key that is not configured');
    const iv = data.subarray(1 + KEY_ID_BYTES, 1 + KEY_ID_BYTES + IV_BYTES);
    const tag = data.subarray(1 + KEY_ID_BYTES + IV_BYTES, HEADER_BYTES);
    const decipher = crypto.createDecipheriv('aes-256-gcm', key.secret, iv);
    decipher.setAuthTag(tag);
    const plain = Buffer.concat([decipher.update(data.subarray(HEADER_BYTES)), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as T;
  }

  /** True when `blob` is sealed with the current key. */
  isCurrent(blob: Uint8Array): boolean {
    return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength)
      .subarray(1, 1 + KEY_ID_BYTES)
      .equals(this.#current.id);
  }
}
