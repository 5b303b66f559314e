// npm run generate: writes the Kafka codecs in src/protocol/kafka/generated/ from the declarations
// in src/protocol/kafka/messages/ (compiled first by tsconfig.generate.json, which leaves out the
// generated files, so a stale or missing one cannot stop its own regeneration).
import { writeGeneratedFiles } from '../dist/src/protocol/codegen/generated-files.js';
import { generatedDirectory, generateKafkaCodecs } from '../dist/src/protocol/kafka/codegen/generate.js';

const files = await generateKafkaCodecs();
const changed = writeGeneratedFiles(generatedDirectory, files);
console.log(`${files.length} generated files in ${generatedDirectory}; ${changed.length === 0 ? 'none changed' : `changed: ${changed.join(', ')}`}`);
