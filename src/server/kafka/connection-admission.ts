/**
 * Counts open connections, all together and per client IP address, and says whether one more may
 * open (`limits.maxConnections`, `limits.maxConnectionsPerAddress`), so that one address cannot take
 * every slot.
 */
export interface Refusal {
  readonly limitName: 'limits.maxConnections' | 'limits.maxConnectionsPerAddress';
  readonly limit: number;
}

export class ConnectionAdmission {
  private openCount = 0;
  private readonly openByAddress = new Map<string, number>();

  constructor(
    private readonly maxConnections: number,
    private readonly maxConnectionsPerAddress: number,
  ) {}

  /** Counts the connection in and returns null, or returns the limit it would break (and counts nothing). */
  admit(address: string): Refusal | null {
    if (this.openCount >= this.maxConnections) return { limitName: 'limits.maxConnections', limit: this.maxConnections };
    const fromAddress = this.openByAddress.get(address) ?? 0;
    if (fromAddress >= this.maxConnectionsPerAddress) return { limitName: 'limits.maxConnectionsPerAddress', limit: this.maxConnectionsPerAddress };
    this.openCount++;
    this.openByAddress.set(address, fromAddress + 1);
    return null;
  }

  /** An admitted connection closed. */
  release(address: string): void {
    this.openCount--;
    const fromAddress = (this.openByAddress.get(address) ?? 0) - 1;
    if (fromAddress > 0) this.openByAddress.set(address, fromAddress);
    else this.openByAddress.delete(address);
  }
}
