#!/usr/bin/env node
// Checks our Kafka API declarations (src/protocol/kafka/messages/*.ts) against the JSON message
// definitions of a Kafka source tree the developer has fetched; see docs/kafka-apis.md.
//
// Usage: npm run check:kafka-schemas -- PATH [--json]
//        (or, after npm run build: node scripts/check-kafka-schemas.mjs PATH [--json] [--declarations DIR])
// PATH is the root of the Kafka tree (its definitions are in clients/src/main/resources/common/message).
// --declarations DIR reads the declarations from the compiled modules in DIR instead of
// dist/src/protocol/kafka/messages (the checker's own tests use it).
// Exit code: 0 no differences, 1 differences, 2 usage error or unreadable tree.
//
// Where things are: this script does the I/O only (arguments, reading the Kafka files and importing
// the compiled declarations). The comparison is TypeScript beside the declarations, in
// src/protocol/kafka/schema-check/ (compiled into dist/ with the rest and type-checked with it);
// it is pure, like the rest of src/protocol.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join, resolve } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const checkerDirectory = join(root, 'dist/src/protocol/kafka/schema-check');
const messagesInKafkaTree = 'clients/src/main/resources/common/message';

function usage(problem) {
  process.stderr.write(`check-kafka-schemas: ${problem}\n` +
    'usage: npm run check:kafka-schemas -- PATH [--json]   (PATH: the root of a Kafka source tree)\n');
  process.exit(2);
}

function parseArguments(argv) {
  const options = { kafkaTree: undefined, json: false, declarations: join(root, 'dist/src/protocol/kafka/messages') };
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    if (argument === '--json') options.json = true;
    else if (argument === '--declarations') options.declarations = resolve(argv[++index] ?? usage('--declarations needs a directory'));
    else if (argument.startsWith('-')) usage(`unknown option ${argument}`);
    else if (options.kafkaTree === undefined) options.kafkaTree = resolve(argument);
    else usage(`one Kafka tree only, got ${options.kafkaTree} and ${argument}`);
  }
  if (options.kafkaTree === undefined) usage('the path of a Kafka source tree is missing');
  return options;
}

/** Every message declaration exported by the compiled modules of `directory`. */
async function readDeclarations(directory) {
  const declarations = [];
  for (const file of readdirSync(directory).filter((name) => name.endsWith('.js')).sort()) {
    const module = await import(pathToFileURL(join(directory, file)).href);
    for (const value of Object.values(module)) {
      if (typeof value === 'object' && value !== null && typeof value.apiKey === 'number' && Array.isArray(value.fields)) {
        declarations.push(value);
      }
    }
  }
  return declarations;
}

function readKafkaDefinitions(kafkaTree, parseKafkaDefinition) {
  const directory = join(kafkaTree, messagesInKafkaTree);
  let files;
  try {
    files = readdirSync(directory).filter((name) => name.endsWith('.json')).sort();
  } catch (error) {
    usage(`cannot read ${directory} (${error.code ?? error.message}): is ${kafkaTree} the root of a Kafka source tree?`);
  }
  if (files.length === 0) usage(`no JSON message definitions in ${directory}`);
  return files.map((file) => parseKafkaDefinition(readFileSync(join(directory, file), 'utf8'), file));
}

const options = parseArguments(process.argv.slice(2));
const { parseKafkaDefinition, KafkaDefinitionError } = await import(pathToFileURL(join(checkerDirectory, 'kafka-definition.js')).href);
const { checkDeclarations } = await import(pathToFileURL(join(checkerDirectory, 'compare.js')).href);
const { fieldRenames, olderVersionsKept } = await import(pathToFileURL(join(checkerDirectory, 'allow-list.js')).href);
const { reportJson, reportText } = await import(pathToFileURL(join(checkerDirectory, 'report.js')).href);

let definitions;
try {
  definitions = readKafkaDefinitions(options.kafkaTree, parseKafkaDefinition);
} catch (error) {
  if (error instanceof KafkaDefinitionError) usage(error.message);
  throw error;
}
const declarations = await readDeclarations(options.declarations);
const result = checkDeclarations(declarations, definitions, { fieldRenames, olderVersionsKept });
process.stdout.write(options.json ? reportJson(result, options.kafkaTree) : reportText(result, declarations.length));
process.exitCode = result.differences.length === 0 ? 0 : 1;
