/**
 * Node (V8) flags a broker process starts with, wherever it is started: `npm start`, bin/osprey.js
 * (its first line), the test helpers, the local cluster (`npm run cluster`) and the bench.
 *
 * --initial-heap-size=64 (MB): with V8's default start, a broker's old generation (about 20 MB
 * live) got an allocation limit so close to its size that the room left was smaller than the
 * young generation, which V8 takes as "limit soon reached" and answers with incremental marking:
 * a full mark-compact every 100–200 ms that freed nothing. Measured on one broker taking 300,000
 * records of 1 KiB (osprey perf produce, side by side): 31–39 mark-compacts and 200–297 CPU
 * centiseconds without the flag, none and 139–141 with it, RSS 5 MB higher; a follower of a
 * three-broker cluster, 273–293 against 129–170. The flag raises the smallest limit V8 grows
 * the old generation to; it reserves nothing up front. V8 reads it only as the process starts,
 * so it cannot be set from inside the broker.
 */
export const brokerNodeFlags: readonly string[] = ['--initial-heap-size=64'];
