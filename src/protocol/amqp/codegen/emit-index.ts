/**
 * Emits generated/index.ts: the `AmqpMethod` union of every declared method, the list of
 * declarations, and the two dispatches — class and method ids to the method's decoder, a method's
 * name to its ids and encoder — as switches, so that neither looks anything up at run time.
 */
import { SourceWriter, capitalize, stringLiteral } from '../../codegen/source-writer.js';
import type { DeclaredMethod } from './emit-codec.js';

export interface ClassFile {
  /** The generated module, e.g. "basic.js". */
  readonly module: string;
  readonly methods: readonly DeclaredMethod[];
}

export function emitIndexFile(classFiles: readonly ClassFile[], header: string): string {
  const all = classFiles.flatMap((file) => file.methods);
  all.sort((left, right) => left.declaration.classId - right.declaration.classId || left.declaration.methodId - right.declaration.methodId);
  const source = new SourceWriter();
  source.line(header);
  source.line(`import type { Reader } from '../../wire/reader.js';`);
  source.line(`import type { Writer } from '../../wire/writer.js';`);
  source.line(`import type { Arguments, MethodDeclaration } from '../schema.js';`);
  for (const file of classFiles) {
    if (file.methods.length === 0) continue;
    source.line(`import { ${file.methods.map((method) => method.exportName).join(', ')} } from '../classes/${file.module}';`);
    const codecs = file.methods.flatMap((method) => [`decode${capitalize(method.exportName)}`, `encode${capitalize(method.exportName)}`]);
    source.line(`import { ${codecs.join(', ')} } from './${file.module}';`);
  }
  source.line('');
  source.line('/** A method and its arguments, told apart by the name the specification gives it. */');
  source.line('export type AmqpMethod =');
  source.indented(() => {
    all.forEach(({ exportName, declaration }, index) => {
      const end = index === all.length - 1 ? ';' : '';
      source.line(`| { readonly name: ${stringLiteral(declaration.name)}; readonly arguments: Arguments<typeof ${exportName}> }${end}`);
    });
  });
  source.line('');
  source.line('/** Every declared method, in class and method id order. */');
  source.block('export const methodDeclarations: readonly MethodDeclaration[] = [', () => {
    for (const { exportName } of all) source.line(`${exportName},`);
  }, '];');
  source.line('');
  source.line('/** The arguments of method `classId`.`methodId` read from `reader`; undefined when no such method is declared. */');
  source.block('export function decodeMethodArguments(classId: number, methodId: number, reader: Reader): AmqpMethod | undefined {', () => {
    source.block('switch (classId) {', () => {
      for (const classId of [...new Set(all.map((method) => method.declaration.classId))]) {
        source.line(`case ${classId}:`);
        source.indented(() => {
          source.block('switch (methodId) {', () => {
            for (const { exportName, declaration } of all.filter((method) => method.declaration.classId === classId)) {
              source.line(`case ${declaration.methodId}:`);
              source.indented(() => source.line(`return { name: ${stringLiteral(declaration.name)}, arguments: decode${capitalize(exportName)}(reader) };`));
            }
          });
          source.line('return undefined;');
        });
      }
    });
    source.line('return undefined;');
  });
  source.line('');
  source.line('/** Class id, method id and arguments of `method`: a method frame\'s payload. */');
  source.block('export function encodeMethodPayload(method: AmqpMethod, writer: Writer): void {', () => {
    source.block('switch (method.name) {', () => {
      for (const { exportName, declaration } of all) {
        source.line(`case ${stringLiteral(declaration.name)}:`);
        source.indented(() => {
          source.line(`writer.uint16(${declaration.classId});`);
          source.line(`writer.uint16(${declaration.methodId});`);
          source.line(`return encode${capitalize(exportName)}(method.arguments, writer);`);
        });
      }
    });
  });
  return source.toString();
}
