/**
 * Builds the text of a generated source file line by line, keeping the indentation of nested
 * blocks, so that emitters say what to write and not how to lay it out. Knows nothing of any
 * protocol: the Kafka codec emitter uses it, and so can the next protocol's.
 *
 *   const source = new SourceWriter();
 *   source.block('function twice(value: number): number {', () => source.line('return 2 * value;'));
 *   source.toString();   // "function twice(value: number): number {\n  return 2 * value;\n}\n"
 */
const indentUnit = '  ';

export class SourceWriter {
  private readonly lines: string[] = [];
  private depth = 0;

  /** One line at the current indentation; an empty string writes an empty line. */
  line(text: string): void {
    this.lines.push(text === '' ? '' : indentUnit.repeat(this.depth) + text);
  }

  /** `opening`, then what `body` writes indented one level, then `closing`. */
  block(opening: string, body: () => void, closing = '}'): void {
    this.line(opening);
    this.indented(body);
    this.line(closing);
  }

  /** What `body` writes, indented one level, without braces (e.g. the statements of a `case`). */
  indented(body: () => void): void {
    this.depth += 1;
    try {
      body();
    } finally {
      this.depth -= 1;
    }
  }

  /** `if (test) { … } else { … }`. */
  ifElse(test: string, whenTrue: () => void, whenFalse: () => void): void {
    this.line(`if (${test}) {`);
    this.indented(whenTrue);
    this.line('} else {');
    this.indented(whenFalse);
    this.line('}');
  }

  /** Appends the lines of another writer, indented at the current level. */
  append(other: SourceWriter): void {
    for (const text of other.lines) this.line(text);
  }

  get isEmpty(): boolean {
    return this.lines.length === 0;
  }

  /** The text, ending with a newline. */
  toString(): string {
    return this.lines.length === 0 ? '' : `${this.lines.join('\n')}\n`;
  }
}

/** `text` as a single-quoted TypeScript string literal. */
export function stringLiteral(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

/** `name` with its first letter in upper case ("topics" → "Topics"), for names built from paths. */
export function capitalize(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
