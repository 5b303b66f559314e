// npm run generate: writes the generated protocol codecs from their declarations: the Kafka
// messages (src/protocol/kafka/messages/ → src/protocol/kafka/generated/) and the AMQP 0-9-1
// methods (src/protocol/amqp/classes/ → src/protocol/amqp/generated/); another protocol adds its
// generator to the list. tsconfig.generate.json compiles the generators and declarations first but
// not the generated files, so a stale or missing generated file cannot stop its own regeneration.
import { writeGeneratedFiles } from '../dist/src/protocol/codegen/generated-files.js';
import * as kafka from '../dist/src/protocol/kafka/codegen/generate.js';
import * as amqp from '../dist/src/protocol/amqp/codegen/generate.js';

const generators = [
  { protocol: 'Kafka', directory: kafka.generatedDirectory, generate: kafka.generateKafkaCodecs },
  { protocol: 'AMQP 0-9-1', directory: amqp.generatedDirectory, generate: amqp.generateAmqpCodecs },
];

for (const { protocol, directory, generate } of generators) {
  const files = await generate();
  const changed = writeGeneratedFiles(directory, files);
  console.log(`${protocol}: ${files.length} generated files in ${directory}; ${changed.length === 0 ? 'none changed' : `changed: ${changed.join(', ')}`}`);
}
