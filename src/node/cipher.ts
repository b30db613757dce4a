// AES-256-GCM for private data at rest. The link hash is the additional authenticated data, so a
// ciphertext cannot be moved to another link's row without failing to decrypt.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { DataCipher } from '../ledger/ports.js';

export function aesGcmCipher(key: Buffer): DataCipher {
  if (key.length !== 32) throw new Error('the data key must be 32 bytes');
  const keyId = createHash('sha256').update('pop-data-key:').update(key).digest('hex').slice(0, 16);
  return {
    keyId,
    encrypt(plaintext, aad) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(aad, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return { iv, ciphertext, tag: cipher.getAuthTag() };
    },
    decrypt(box, aad) {
      const decipher = createDecipheriv('aes-256-gcm', key, box.iv);
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(box.tag);
      return Buffer.concat([decipher.update(box.ciphertext), decipher.final()]).toString('utf8');
    },
  };
}
