// Strict graphql-js and Apollo's composition read relhealth's published SDL: for each file
// in argv, `buildSchema` with graphql-js's full SDL validation, then `composeServices` of
// it with a second subgraph that extends `Release` (what `rover supergraph compose` does).
// Prints one JSON line {file: {buildSchema, types, compose}} for tests/test_schema_sdl.py.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(join(process.env.RELHEALTH_NPM_DIR, "package.json"));
const { buildSchema, parse } = require("graphql");
const { composeServices } = require("@apollo/composition");

const deployments = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
  type Release @key(fields: "projectId version") { projectId: ID! version: String! deployedBy: String }
  type Query { lastDeployed: Release }
`);

const results = {};
for (const file of process.argv.slice(2)) {
  const sdl = readFileSync(file, "utf8");
  const result = {};
  try {
    const schema = buildSchema(sdl); // validates the document, unknown directives included
    result.buildSchema = "ok";
    result.types = Object.keys(schema.getTypeMap()).filter((n) => !n.startsWith("__")).sort();
  } catch (error) {
    result.buildSchema = String(error);
  }
  const composed = composeServices([
    { name: "relhealth", typeDefs: parse(sdl), url: "http://127.0.0.1:1/graphql" },
    { name: "deployments", typeDefs: deployments, url: "http://127.0.0.1:2/graphql" },
  ]);
  result.compose = composed.errors ? composed.errors.map(String) : "ok";
  results[file] = result;
}
console.log(JSON.stringify(results));
