// The npm packages live in a cache directory outside the repository (the test installs
// them there); ESM `import` would only look in node_modules above this file, so resolve
// them from that directory.
import { createRequire } from "node:module";
import { join } from "node:path";

const dir = process.env.RELHEALTH_NPM_DIR;
if (!dir) throw new Error("RELHEALTH_NPM_DIR is not set");
export const require = createRequire(join(dir, "package.json"));

/** Start an Apollo Server on 127.0.0.1 (a free port) and announce its URL on stdout. */
export async function serve(server, options = {}) {
  const { startStandaloneServer } = require("@apollo/server/standalone");
  const { url } = await startStandaloneServer(server, {
    ...options,
    listen: { host: "127.0.0.1", port: 0 },
  });
  console.log(JSON.stringify({ ready: url }));
}
