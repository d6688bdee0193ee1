// The graphql-ws client (graphql-transport-ws) against a live relhealth, for
// tests/test_subscriptions_client.py: opens one connection, starts every subscription of
// SUBSCRIPTIONS on it, and prints what happens as JSON lines on stdout (one per message:
// connected, next, error, complete, closed). It stops when its standard input closes.
//
// Environment: RELHEALTH_NPM_DIR (node_modules from the test's npm cache), RELHEALTH_WS_URL,
// RELHEALTH_TOKEN, SUBSCRIPTIONS (a JSON list of {name, query, variables}).
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(join(process.env.RELHEALTH_NPM_DIR, "package.json"));
const { createClient } = require("graphql-ws");
const WebSocket = require("ws");

const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");

const client = createClient({
  url: process.env.RELHEALTH_WS_URL,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${process.env.RELHEALTH_TOKEN}` },
  lazy: false,
  retryAttempts: 0,
  on: {
    connected: () => print({ event: "connected" }),
    closed: (event) => print({ event: "closed", code: event.code, reason: event.reason }),
  },
  onNonLazyError: () => {}, // reported by `closed`
});

for (const { name, query, variables } of JSON.parse(process.env.SUBSCRIPTIONS)) {
  client.subscribe(
    { query, variables },
    {
      next: (payload) => print({ event: "next", sub: name, data: payload.data, errors: payload.errors }),
      error: (error) =>
        print({ event: "error", sub: name, errors: Array.isArray(error) ? error : [String(error.reason ?? error)] }),
      complete: () => print({ event: "complete", sub: name }),
    },
  );
}

process.stdin.resume();
process.stdin.on("end", async () => {
  await client.dispose();
  process.exit(0);
});
