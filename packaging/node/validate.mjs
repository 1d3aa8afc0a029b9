// Validates one glTF / GLB file with the Khronos glTF validator.
//
//   node packaging/node/validate.mjs FILE.glb
//
// Prints the validator's JSON report to stdout. Exit status: 0 when the report
// has no errors, 1 when it has errors, 2 when the file cannot be read or is not
// glTF at all (the reason goes to stderr).

import { readFile } from "node:fs/promises";
import path from "node:path";
import validator from "gltf-validator";

const USAGE = "usage: node packaging/node/validate.mjs FILE.glb|FILE.gltf";

class Unreadable extends Error {}

function fail(message) {
  throw new Unreadable(message);
}

async function main(argv) {
  if (argv.length !== 1) fail(USAGE);
  const file = path.resolve(argv[0]);

  let bytes;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (err) {
    fail(`cannot read ${file}: ${err.message}`);
  }

  let report;
  try {
    report = await validator.validateBytes(bytes, {
      uri: path.basename(file),
      maxIssues: 0, // report every issue
      writeTimestamp: false, // the same file gives the same report
      // A .gltf may point at sibling .bin / image files: validate those too.
      externalResourceFunction: (uri) =>
        readFile(path.resolve(path.dirname(file), decodeURIComponent(uri))).then(
          (data) => new Uint8Array(data),
        ),
    });
  } catch (err) {
    // The validator rejects only when it cannot tell glTF from GLB.
    fail(`${file} is not a glTF or GLB file: ${err}`);
  }

  console.log(JSON.stringify(report, null, 2));
  const errors = report.issues.numErrors;
  if (errors > 0) {
    const first = report.issues.messages.find((m) => m.severity === 0);
    const where = first?.pointer ?? first?.offset;
    const detail = first ? `, first: ${first.code}${where === undefined ? "" : ` at ${where}`}: ${first.message}` : "";
    console.error(`validate.mjs: ${file}: ${errors} error(s)${detail}`);
    return 1;
  }
  return 0;
}

// Set exitCode rather than calling process.exit(), so a long report written
// to a pipe is flushed in full before node exits.
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof Unreadable)) throw err;
  console.error(`validate.mjs: ${err.message}`);
  process.exitCode = 2;
}
