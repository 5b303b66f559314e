/**
 * `npm run generate` for AMQP 0-9-1: one file in src/protocol/amqp/generated/ per class file of
 * declarations in src/protocol/amqp/classes/, holding the codecs of its methods (and properties),
 * plus index.ts: the union type of every method and the dispatch from class and method ids to the
 * right decoder and from a method's name to its encoder. Runs on the compiled declarations (dist/)
 * and returns the files rather than writing them, so the staleness test can compare.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generatedHeader } from '../../codegen/generated-files.js';
import type { GeneratedFile } from '../../codegen/generated-files.js';
import type { MethodDeclaration, PropertiesDeclaration } from '../schema.js';
import { emitClassFile } from './emit-codec.js';
import type { DeclaredMethod, DeclaredProperties } from './emit-codec.js';
import { emitIndexFile } from './emit-index.js';
import type { ClassFile } from './emit-index.js';

const command = 'npm run generate';
/** This module runs from dist/src/protocol/amqp/codegen/; the sources are five levels up, in src/. */
const repositoryRoot = new URL('../../../../../', import.meta.url);
const classesSource = new URL('src/protocol/amqp/classes/', repositoryRoot);
const compiledClasses = new URL('../classes/', import.meta.url);

/** Where the generated AMQP codecs are checked in. */
export const generatedDirectory = fileURLToPath(new URL('src/protocol/amqp/generated/', repositoryRoot));

function isMethodDeclaration(value: unknown): value is MethodDeclaration {
  return typeof value === 'object' && value !== null && 'classId' in value && 'methodId' in value && 'arguments' in value;
}

function isPropertiesDeclaration(value: unknown): value is PropertiesDeclaration {
  return typeof value === 'object' && value !== null && 'classId' in value && 'properties' in value;
}

export async function generateAmqpCodecs(): Promise<GeneratedFile[]> {
  const files: GeneratedFile[] = [];
  const classFiles: ClassFile[] = [];
  const sourceFiles = readdirSync(classesSource).filter((name) => name.endsWith('.ts')).sort();
  for (const sourceFile of sourceFiles) {
    const module = (await import(new URL(sourceFile.replace(/\.ts$/, '.js'), compiledClasses).href)) as Record<string, unknown>;
    const methods: DeclaredMethod[] = [];
    const properties: DeclaredProperties[] = [];
    for (const [exportName, value] of Object.entries(module)) {
      if (isMethodDeclaration(value)) methods.push({ exportName, declaration: value });
      else if (isPropertiesDeclaration(value)) properties.push({ exportName, declaration: value });
    }
    if (methods.length === 0 && properties.length === 0) continue;
    // Declaration order within a file is the specification's order, and so is the generated code's.
    methods.sort((left, right) => left.declaration.methodId - right.declaration.methodId);
    files.push({ name: sourceFile, text: emitClassFile(sourceFile, methods, properties, generatedHeader(command, `classes/${sourceFile}`)) });
    classFiles.push({ module: sourceFile.replace(/\.ts$/, '.js'), methods });
  }
  checkUniqueIds(classFiles);
  files.push({ name: 'index.ts', text: emitIndexFile(classFiles, generatedHeader(command, 'classes/*.ts')) });
  return files;
}

/** Two declarations with the same class and method ids would make the dispatch ambiguous. */
function checkUniqueIds(classFiles: readonly ClassFile[]): void {
  const seen = new Map<string, string>();
  for (const { methods } of classFiles) {
    for (const { declaration } of methods) {
      const key = `${declaration.classId}.${declaration.methodId}`;
      const earlier = seen.get(key);
      if (earlier !== undefined) throw new Error(`${declaration.name} and ${earlier} both have class ${declaration.classId}, method ${declaration.methodId}`);
      seen.set(key, declaration.name);
    }
  }
}
