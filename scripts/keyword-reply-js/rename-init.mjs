// Works around componentize-qjs 0.4.5, whose QuickJS runtime exports its own
// top-level `init` (its build-time Wizer entry point). A world that exports
// `init` itself then fails in wit-component with "one or more duplicate items
// detected when collecting into set or map". build.sh therefore builds against
// a copy of the WIT whose `init` export is called `bot-init`; this script,
// given the component's text form (wasm-tools print), drops the runtime's
// `init` export and renames `bot-init` to `init`.
//
//   node rename-init.mjs in.wat out.wat
import { readFileSync, writeFileSync } from "node:fs";

const [input, output] = process.argv.slice(2);
const lines = readFileSync(input, "utf8").split("\n");
while (lines.length && lines[lines.length - 1] === "") lines.pop();
if (lines[lines.length - 1] !== ")") throw new Error("unexpected end of component text");

// The component ends with pairs of top-level lines:
//   (alias export 22 "init" (func (;0;)))
//   (export (;1;) "init" (func 0))
const aliasRe = /^  \(alias export (\d+) "([^"]+)" \(func \(;(\d+);\)\)\)$/;
const exportRe = /^  \(export \(;(\d+);\) "([^"]+)" \(func (\d+)\)\)$/;
let start = lines.length - 1;
while (aliasRe.test(lines[start - 1]) || exportRe.test(lines[start - 1])) start--;
const tail = lines.slice(start, lines.length - 1);

const aliasByIndex = new Map();
const out = [];
for (const line of tail) {
  let m = aliasRe.exec(line);
  if (m) {
    const [, inst, name, idx] = m;
    aliasByIndex.set(idx, name);
    if (name !== "init") out.push(`  (alias export ${inst} "${name}" (func $openqq-${name}))`);
    continue;
  }
  m = exportRe.exec(line);
  const [, , name, target] = m;
  if (aliasByIndex.get(target) !== name) throw new Error(`export "${name}" is not a plain re-export`);
  if (name === "init") continue;
  const exported = name === "bot-init" ? "init" : name;
  out.push(`  (export "${exported}" (func $openqq-${name}))`);
}
const names = [...aliasByIndex.values()];
if (!names.includes("init") || !names.includes("bot-init") || !names.includes("on-message")) {
  throw new Error(`unexpected top-level exports: ${names.join(", ")}`);
}
writeFileSync(output, [...lines.slice(0, start), ...out, ")", ""].join("\n"));
console.error(`rename-init: dropped the runtime's "init" export, exported "bot-init" as "init"`);
