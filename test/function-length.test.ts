/**
 * No function in src/ is longer than MAX_LINES: every function, method, accessor, constructor and
 * arrow function body is measured with the TypeScript compiler's parser (nested functions count
 * within their parent too). A long function is split by concept, not by a longer limit.
 */
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

const MAX_LINES = 80;
const SRC = path.join(__dirname, "..", "src");

interface Measured {
  readonly where: string;
  readonly lines: number;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

function functionName(node: ts.Node): string {
  const named = node as ts.Node & { name?: ts.Node };
  if (named.name && ts.isIdentifier(named.name)) return named.name.text;
  if (ts.isConstructorDeclaration(node)) return "constructor";
  // An anonymous function takes the name of what it is assigned to, or of its call.
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) return parent.name.getText();
  if (ts.isCallExpression(parent)) return `(callback of ${parent.expression.getText().slice(0, 40)})`;
  return "(anonymous)";
}

function measure(file: string): Measured[] {
  const text = fs.readFileSync(file, "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const rel = path.relative(SRC, file).split(path.sep).join("/");
  const found: Measured[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const body = node.body as ts.Node;
      const first = source.getLineAndCharacterOfPosition(body.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(body.getEnd()).line;
      const where = `${rel}:${functionName(node)} (line ${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1})`;
      found.push({ where, lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const all = sourceFiles(SRC).flatMap(measure);
const long = all.filter((f) => f.lines > MAX_LINES);

test("the parser sees the functions of src/ (a sanity check of the measurement)", () => {
  expect(all.length).toBeGreaterThan(100);
  expect(all.some((f) => f.where.startsWith("train/trainer.ts:train "))).toBe(true);
});

test(`no function in src/ over ${MAX_LINES} lines`, () => {
  expect(long.map((m) => `${m.where}: ${m.lines} lines`)).toEqual([]);
});

test("the limit is measured: a long function would be caught", () => {
  const body = Array.from({ length: MAX_LINES + 1 }, (_, i) => `  const x${i} = ${i};`).join("\n");
  const file = path.join(require("os").tmpdir(), `alexc-long-${process.pid}.ts`);
  fs.writeFileSync(file, `export function tooLong(): void {\n${body}\n}\n`);
  try {
    expect(measure(file).some((m) => m.where.includes("tooLong") && m.lines > MAX_LINES)).toBe(true);
  } finally {
    fs.rmSync(file);
  }
});
