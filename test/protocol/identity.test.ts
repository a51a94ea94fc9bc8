// The peer identity: created once with mode 0600, the same peer id on every later start, and a
// damaged or exposed key file is one clear error.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { IDENTITY_FILE, loadOrCreateIdentity } from '../../node/protocol/identity.ts';
import { tempDir } from '../temp-dir.ts';

const tmp = () => tempDir('identity-');

test('the first start creates an Ed25519 key readable by its owner only; later starts load the same one', async (t) => {
  const dir = path.join(tmp(), 'data');
  const first = await loadOrCreateIdentity(dir);
  t.true(first.created);
  t.is(first.privateKey.type, 'Ed25519');
  t.is(fs.statSync(first.file).mode & 0o777, 0o600);
  t.deepEqual(fs.readdirSync(dir), [IDENTITY_FILE], 'no temporary file is left behind');
  const again = await loadOrCreateIdentity(dir);
  t.false(again.created);
  t.true(peerIdFromPrivateKey(again.privateKey).equals(peerIdFromPrivateKey(first.privateKey)));
});

test('a key file others can read, or one that holds no key, is refused with what to do', async (t) => {
  const dir = tmp();
  const { file } = await loadOrCreateIdentity(dir);
  fs.chmodSync(file, 0o644);
  await t.throwsAsync(loadOrCreateIdentity(dir), {
    name: 'IdentityError',
    message: /readable by other users \(mode 644\).*chmod 600/,
  });
  fs.chmodSync(file, 0o600);
  fs.writeFileSync(file, 'not a key');
  await t.throwsAsync(loadOrCreateIdentity(dir), {
    name: 'IdentityError',
    message: /is not a private key.*move it away/,
  });
});
