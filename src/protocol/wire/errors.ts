/**
 * Thrown by the wire reader when bytes cannot be parsed: a length beyond the bytes left, a varint
 * longer than its type allows, an array count that could not fit. The server catches it at the frame
 * boundary and closes that one connection; it never escapes as a protocol answer.
 */
export class MalformedInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedInputError';
  }
}
