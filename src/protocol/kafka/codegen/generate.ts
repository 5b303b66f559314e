/**
 * `npm run generate` for Kafka: one file in src/protocol/kafka/generated/ per file of declarations
 * in src/protocol/kafka/messages/, holding the codecs of its request and response, plus index.ts
 * listing them all for codec.ts. Runs on the compiled declarations (dist/), and returns the files
 * rather than writing them, so the staleness test can compare without touching the tree.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generatedHeader } from '../../codegen/generated-files.js';
import type { GeneratedFile } from '../../codegen/generated-files.js';
import { SourceWriter } from '../../codegen/source-writer.js';
import type { MessageSchema } from '../schema.js';
import { emitCodecFile } from './emit-codec.js';
import type { DeclaredMessage } from './emit-codec.js';

const command = 'npm run generate';
/** This module runs from dist/src/protocol/kafka/codegen/; the sources are five levels up, in src/. */
const repositoryRoot = new URL('../../../../../', import.meta.url);
const messagesSource = new URL('src/protocol/kafka/messages/', repositoryRoot);
const compiledMessages = new URL('../messages/', import.meta.url);

/** Where the generated Kafka codecs are checked in. */
export const generatedDirectory = fileURLToPath(new URL('src/protocol/kafka/generated/', repositoryRoot));

function isMessageSchema(value: unknown): value is MessageSchema {
  return typeof value === 'object' && value !== null && 'apiKey' in value && 'validVersions' in value && 'fields' in value;
}

export async function generateKafkaCodecs(): Promise<GeneratedFile[]> {
  const files: GeneratedFile[] = [];
  const codecExports: { module: string; names: string[] }[] = [];
  const sourceFiles = readdirSync(messagesSource).filter((name) => name.endsWith('.ts')).sort();
  for (const sourceFile of sourceFiles) {
    const module = (await import(new URL(sourceFile.replace(/\.ts$/, '.js'), compiledMessages).href)) as Record<string, unknown>;
    const messages: DeclaredMessage[] = Object.entries(module)
      .filter((entry): entry is [string, MessageSchema] => isMessageSchema(entry[1]))
      .map(([exportName, schema]) => ({ exportName, schema }));
    if (messages.length === 0) continue;
    files.push({ name: sourceFile, text: emitCodecFile(sourceFile, messages, generatedHeader(command, `messages/${sourceFile}`)) });
    codecExports.push({ module: sourceFile.replace(/\.ts$/, '.js'), names: messages.map((message) => `${message.exportName}Codec`) });
  }
  files.push({ name: 'index.ts', text: indexFile(codecExports) });
  return files;
}

function indexFile(codecExports: readonly { module: string; names: readonly string[] }[]): string {
  const source = new SourceWriter();
  source.line(generatedHeader(command, 'messages/*.ts'));
  for (const { module, names } of codecExports) source.line(`import { ${names.join(', ')} } from './${module}';`);
  source.line(`import type { MessageSchema } from '../schema.js';`);
  source.line('');
  source.line('/** Every generated codec, for codec.ts to find by its declaration. */');
  source.block('export const generatedCodecs: readonly { readonly schema: MessageSchema }[] = [', () => {
    for (const { names } of codecExports) for (const name of names) source.line(`${name},`);
  }, '];');
  return source.toString();
}
