/**
 * Snappy, LZ4 and zstd for KafkaJS 2.2.4, which ships gzip only and takes other codecs as plug-ins
 * (`CompressionCodecs[CompressionTypes.X] = () => codec`). The published plug-ins do not serve us on
 * Node 20: `@kafkajs/zstd` needs `cppzst`, which fails to compile; `kafkajs-lz4` depends on the
 * native `lz4@0.6.5`, whose install script (node-gyp, downloading Node headers) npm either skips or
 * cannot run offline. So this file adapts maintained packages with prebuilt Node-API binaries:
 *
 *   codec   package                what goes on the wire (what Kafka expects inside a v2 batch)
 *   snappy  snappy (napi)          raw Snappy blocks on compress, as kafkajs-snappy and librdkafka
 *                                  write them; decompress also reads the xerial framing that Java
 *                                  producers write (magic 82 53 4e 41 50 50 59 00, then int32-sized chunks)
 *   lz4     lz4-napi               the LZ4 *frame* format (magic 04 22 4d 18), not raw LZ4 blocks
 *   zstd    @mongodb-js/zstd@1.2.2 standard zstd frames (7.x and 2.x of that package fail to install)
 *
 *   registerKafkaJsCodecs();   // once per process, before a producer sends compressed batches
 */
import kafkajs from 'kafkajs';
import { compress as snappyCompress, uncompress as snappyUncompress } from 'snappy';
import { compressFrame as lz4CompressFrame, decompressFrame as lz4DecompressFrame } from 'lz4-napi';
import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';

const { CompressionCodecs, CompressionTypes } = kafkajs;

/** What KafkaJS calls: compress gets its encoder (we need only the bytes), decompress the block. */
interface KafkaJsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const xerialMagic = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
/** Magic (8 bytes), version (int32), compatible version (int32); chunks follow. */
const xerialHeaderBytes = 16;
const zstdLevel = 3;

async function snappyDecompressBlock(block: Buffer): Promise<Buffer> {
  const output = await snappyUncompress(block);
  return typeof output === 'string' ? Buffer.from(output) : output;
}

async function snappyDecompress(buffer: Buffer): Promise<Buffer> {
  if (buffer.length < xerialHeaderBytes || !buffer.subarray(0, xerialMagic.length).equals(xerialMagic)) {
    return snappyDecompressBlock(buffer);
  }
  const chunks: Buffer[] = [];
  let position = xerialHeaderBytes;
  while (position + 4 <= buffer.length) {
    const chunkBytes = buffer.readInt32BE(position);
    position += 4;
    if (chunkBytes < 0 || position + chunkBytes > buffer.length) throw new Error(`xerial snappy chunk of ${chunkBytes} bytes overruns the ${buffer.length}-byte block`);
    chunks.push(await snappyDecompressBlock(buffer.subarray(position, position + chunkBytes)));
    position += chunkBytes;
  }
  return Buffer.concat(chunks);
}

const snappyCodec: KafkaJsCodec = {
  compress: (encoder) => snappyCompress(encoder.buffer),
  decompress: snappyDecompress,
};

const lz4Codec: KafkaJsCodec = {
  compress: (encoder) => lz4CompressFrame(encoder.buffer),
  decompress: (buffer) => lz4DecompressFrame(buffer),
};

const zstdCodec: KafkaJsCodec = {
  compress: (encoder) => zstdCompress(encoder.buffer, zstdLevel),
  decompress: (buffer) => zstdDecompress(buffer),
};

/** Installs the three codecs into KafkaJS's process-wide table; calling it again changes nothing. */
export function registerKafkaJsCodecs(): void {
  const codecs = CompressionCodecs as Record<number, () => KafkaJsCodec>;
  codecs[CompressionTypes.Snappy] = () => snappyCodec;
  codecs[CompressionTypes.LZ4] = () => lz4Codec;
  codecs[CompressionTypes.ZSTD] = () => zstdCodec;
}
