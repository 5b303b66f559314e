/**
 * Message bodies. Printable ASCII without newlines (kcat reads one message per line), from a fixed
 * seed so every broker gets the same bytes. Latency messages carry their intended send time in the
 * first 8 bytes (float64, milliseconds of performance.now() in this process).
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

export const timestampBytes = 8;

export function stampedPayload(size: number, intendedSendMs: number, body: Buffer): Buffer {
  const payload = Buffer.allocUnsafe(Math.max(size, timestampBytes));
  body.copy(payload, 0, 0, payload.length);
  payload.writeDoubleLE(intendedSendMs, 0);
  return payload;
}

export function readStamp(payload: Buffer): number {
  return payload.length >= timestampBytes ? payload.readDoubleLE(0) : Number.NaN;
}

export function templateBody(size: number): Buffer {
  return pseudoRandomText(Math.max(size, timestampBytes), 0xbeef);
}
