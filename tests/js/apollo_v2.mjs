// Apollo Client 4 against a live relhealth's API v2, for tests/test_graphql_apollo_v2.py:
// watches queries through one normalized InMemoryCache, pages with `fetchMore`, and prints
// every step's result as one JSON line. The only cache configuration is the README's
// ("Apollo Client"): relayStylePagination on the connections; ids do the rest.
//
// Environment: RELHEALTH_NPM_DIR (node_modules from the test's npm cache), RELHEALTH_URL,
// RELHEALTH_TOKEN, STEPS (a JSON list; see `run` below).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(join(process.env.RELHEALTH_NPM_DIR, "package.json"));
const { ApolloClient, InMemoryCache, HttpLink, gql } = require("@apollo/client");
const { relayStylePagination } = require("@apollo/client/utilities");

let requests = 0;
const countingFetch = (url, init) => {
  requests += 1;
  return fetch(url, init);
};

// README "Apollo Client": copied there verbatim (the test checks it).
const cache = new InMemoryCache({
  typePolicies: {
    Organization: { fields: { projects: relayStylePagination(), environments: relayStylePagination() } },
    OrganizationHealth: {
      fields: { releases: relayStylePagination(["orderBy", "projects"]), projects: relayStylePagination() },
    },
    Project: { fields: { releases: relayStylePagination() } },
    ProjectHealth: {
      fields: {
        releases: relayStylePagination(["orderBy"]),
        breakdown: relayStylePagination(["by"]),
        versions: relayStylePagination(),
      },
    },
    ReleaseHealth: { fields: { breakdown: relayStylePagination(["by"]) } },
  },
});

const client = new ApolloClient({
  cache,
  link: new HttpLink({
    uri: process.env.RELHEALTH_URL,
    headers: { authorization: `Bearer ${process.env.RELHEALTH_TOKEN}` },
    fetch: countingFetch,
  }),
});

/** A watched query: its ObservableQuery and the last complete result it emitted. */
const watched = new Map();

function watch(name, query, variables) {
  const observable = client.watchQuery({ query, variables, fetchPolicy: "cache-first" });
  const entry = { observable, query, variables, latest: null };
  watched.set(name, entry);
  return new Promise((resolve, reject) => {
    let first = true;
    entry.subscription = observable.subscribe({
      next(result) {
        if (result.loading || result.dataState !== "complete") return;
        entry.latest = result.data;
        if (first) {
          first = false;
          resolve(result);
        }
      },
      error: reject,
    });
  });
}

const at = (value, path) => path.reduce((v, key) => v[key], value);
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

// Steps:
//   {"do": "watch", "as": NAME, "file": PATH, "variables": {...}}  watch a query (cache-first)
//   {"do": "fetchMore", "as": NAME, "cursor": [path to endCursor]} the next page after it
//   {"do": "read", "as": NAME}  what the watcher shows now, and the same query read from the
//                               cache alone (no request)
//   {"do": "extract"}           the normalized cache
async function run(step) {
  const before = requests;
  const entry = watched.get(step.as);
  switch (step.do) {
    case "watch": {
      const result = await watch(step.as, gql(readFileSync(step.file, "utf8")), step.variables);
      return { data: result.data, requests: requests - before };
    }
    case "fetchMore": {
      const after = at(entry.latest, step.cursor);
      const page = await entry.observable.fetchMore({ variables: { after } });
      await tick(); // the cache's broadcast reaches the watcher
      return { after, page: page.data, data: entry.latest, requests: requests - before };
    }
    case "read": {
      const cached = await client.query({
        query: entry.query,
        variables: entry.variables,
        fetchPolicy: "cache-only",
      });
      return { data: entry.latest, cached: cached.data, requests: requests - before };
    }
    case "extract":
      return { cache: cache.extract(), requests: requests - before };
    default:
      throw new Error(`unknown step ${JSON.stringify(step)}`);
  }
}

const out = [];
for (const step of JSON.parse(process.env.STEPS)) out.push(await run(step));
for (const entry of watched.values()) entry.subscription.unsubscribe();
console.log(JSON.stringify(out));
