// A second subgraph: it owns deployments, extends relhealth's `Release` with deployment
// fields (keyed by projectId + version) and references relhealth's Release and Project.
// DEPLOYMENTS (JSON): [{id, environment, projectId, version, deployedBy, notes}].
import { require, serve } from "./deps.mjs";

const { ApolloServer } = require("@apollo/server");
const { buildSubgraphSchema } = require("@apollo/subgraph");
const { parse } = require("graphql");

const typeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])

  type Release @key(fields: "projectId version") {
    projectId: ID!
    version: String!
    deployedBy: String
    notes: String
  }

  type Project @key(fields: "id", resolvable: false) {
    id: ID!
  }

  type Deployment {
    id: ID!
    environment: String!
    release: Release
    project: Project
  }

  type Query {
    deployments: [Deployment!]!
  }
`);

const deployments = JSON.parse(process.env.DEPLOYMENTS ?? "[]");
const key = (r) => JSON.stringify([String(r.projectId), r.version]);
const byRelease = new Map(deployments.map((d) => [key(d), d]));

const resolvers = {
  Query: { deployments: () => deployments },
  Deployment: {
    release: (d) => ({ projectId: d.projectId, version: d.version }),
    project: (d) => ({ id: d.projectId }),
  },
  Release: {
    __resolveReference: (ref) => ({ projectId: ref.projectId, version: ref.version }),
    deployedBy: (r) => byRelease.get(key(r))?.deployedBy ?? null,
    notes: (r) => byRelease.get(key(r))?.notes ?? null,
  },
};

await serve(new ApolloServer({ schema: buildSubgraphSchema({ typeDefs, resolvers }) }));
