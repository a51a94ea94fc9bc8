// The peer's persistent identity: one Ed25519 key in its data dir, created on first start and kept
// (file mode 0600, written atomically), so its peer id, slot claims and reputation survive restarts.
import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { IdentityError } from './errors.ts';

export const IDENTITY_FILE = 'identity.key';

export interface Identity {
  privateKey: PrivateKey;
  file: string;
  /** Whether this start created it. */
  created: boolean;
}

/** Loads `<dataDir>/identity.key`, or creates it (and the folder) when absent. */
export async function loadOrCreateIdentity(dataDir: string): Promise<Identity> {
  const file = path.resolve(dataDir, IDENTITY_FILE);
  if (fs.existsSync(file)) return { privateKey: readIdentity(file), file, created: false };
  const privateKey = await generateKeyPair('Ed25519');
  writeFileAtomic(file, privateKeyToProtobuf(privateKey), 0o600);
  return { privateKey, file, created: true };
}

function readIdentity(file: string): PrivateKey {
  const mode = fs.statSync(file).mode & 0o777;
  if (mode & 0o077) {
    throw new IdentityError(
      `${file} is readable by other users (mode ${mode.toString(8)}): it holds this peer's private key; run chmod 600 ${file}`,
    );
  }
  let key: PrivateKey;
  try {
    key = privateKeyFromProtobuf(fs.readFileSync(file));
  } catch (err) {
    throw new IdentityError(
      `${file} is not a private key (${(err as Error).message}); move it away to start with a new identity (the peer id will change)`,
    );
  }
  if (key.type !== 'Ed25519')
    throw new IdentityError(
      `${file} holds a ${key.type} key; a peer's identity is Ed25519: move it away to create one`,
    );
  return key;
}
