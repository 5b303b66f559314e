/**
 * Message bodies. Printable ASCII without newlines (kcat reads one message per line), from a fixed
 * seed so every broker gets the same bytes. Latency messages carry their intended send time in the
 * first 16 bytes as decimal digits (microseconds of performance.now() in this process, zero-padded),
 * so they stay printable too.
 */

function pseudoRandomText(size: number, seed: number): Buffer {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const buffer = Buffer.allocUnsafe(size);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < size; index += 1) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    buffer[index] = alphabet.charCodeAt((state >>> 0) % alphabet.length);
  }
  return buffer;
}

/** `count` payloads of `size` bytes: a few distinct bodies, repeated (clients copy them anyway). */
export function backlogPayloads(count: number, size: number): Buffer[] {
  const distinct = Array.from({ length: 16 }, (_, index) => pseudoRandomText(size, 0x5eed + index));
  return Array.from({ length: count }, (_, index) => distinct[index % distinct.length]!);
}

export const timestampBytes = 16;

export function stampedPayload(size: number, intendedSendMs: number, body: Buffer): Buffer {
  const payload = Buffer.allocUnsafe(Math.max(size, timestampBytes));
  body.copy(payload, 0, 0, payload.length);
  payload.write(Math.round(intendedSendMs * 1000).toString().padStart(timestampBytes, '0'), 0, timestampBytes, 'latin1');
  return payload;
}

/** The intended send time, ms, or NaN if the payload carries none. */
export function readStamp(payload: Buffer): number {
  if (payload.length < timestampBytes) return Number.NaN;
  let microseconds = 0;
  for (let index = 0; index < timestampBytes; index += 1) {
    const digit = payload[index]! - 48;
    if (digit < 0 || digit > 9) return Number.NaN;
    microseconds = microseconds * 10 + digit;
  }
  return microseconds / 1000;
}

export function templateBody(size: number): Buffer {
  return pseudoRandomText(Math.max(size, timestampBytes), 0xbeef);
}
