// Regenerates introspection.json (the introspection result the IDE browser
// test's fake /graphql endpoint returns) from schema.graphql. Needs graphql-js:
//
//   mkdir -p /tmp/gqlide && (cd /tmp/gqlide && npm init -y >/dev/null && npm install graphql@16)
//   NODE_PATH=/tmp/gqlide/node_modules node graph/ide/testdata/introspection.js \
//     > graph/ide/testdata/introspection.json
const fs = require("fs");
const path = require("path");
const { buildSchema, introspectionFromSchema } = require("graphql");

const sdl = fs.readFileSync(path.join(__dirname, "schema.graphql"), "utf8");
const result = introspectionFromSchema(buildSchema(sdl), {
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
});
process.stdout.write(JSON.stringify({ data: result }, null, 1) + "\n");
