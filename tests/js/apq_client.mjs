// Apollo Client 4 with its persisted-query link against a live relhealth: prints, as one
// JSON line, every HTTP request the link made and every result, for
// tests/test_graphql_persisted_apollo.py. The npm packages come from the test's cache.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(join(process.env.RELHEALTH_NPM_DIR, "package.json"));
const { ApolloClient, InMemoryCache, HttpLink, gql } = require("@apollo/client");
const { PersistedQueryLink } = require("@apollo/client/link/persisted-queries");
const { sha256 } = await import(require.resolve("crypto-hash"));

const requests = [];
async function countingFetch(url, init) {
  const u = new URL(url);
  let body = {};
  if (init.method === "GET") {
    body = Object.fromEntries(u.searchParams);
    if (body.extensions) body.extensions = JSON.parse(body.extensions);
  } else {
    body = JSON.parse(init.body);
  }
  const response = await fetch(url, init);
  requests.push({
    method: init.method,
    query: typeof body.query === "string",
    hash: body.extensions?.persistedQuery?.sha256Hash ?? null,
    status: response.status,
  });
  return response;
}

const client = new ApolloClient({
  cache: new InMemoryCache(),
  link: new PersistedQueryLink({
    sha256,
    useGETForHashedQueries: process.env.USE_GET === "true",
  }).concat(
    new HttpLink({
      uri: process.env.RELHEALTH_URL,
      headers: { authorization: `Bearer ${process.env.RELHEALTH_TOKEN}` },
      fetch: countingFetch,
    }),
  ),
});

const out = [];
for (const step of JSON.parse(process.env.STEPS)) {
  const query = gql(step.file ? readFileSync(step.file, "utf8") : step.query);
  const before = requests.length;
  try {
    const result = await client.query({ query, variables: step.variables, fetchPolicy: "network-only" });
    out.push({ data: result.data ?? null, error: result.error?.message ?? null, requests: requests.slice(before) });
  } catch (error) {
    const codes = (error.errors ?? []).map((e) => e.extensions?.code);
    out.push({ data: null, error: String(error.message), codes, requests: requests.slice(before) });
  }
}
console.log(JSON.stringify(out));
