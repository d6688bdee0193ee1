// A second subgraph: it owns deployments, contributes `deployedBy` and `notes` to
// relhealth's `Release` (keyed by projectId + version) and `deploymentsCount` to its
// `Project` (keyed by id, the global id relhealth issued: the subgraph stores it as is).
// DEPLOYMENTS (JSON): [{id, environment, projectId, version, project, deployedBy, notes}],
// `project` being the project's relhealth id.
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

  type Project @key(fields: "id") {
    id: ID!
    deploymentsCount: Int!
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
    project: (d) => ({ id: d.project }),
  },
  Release: {
    __resolveReference: (ref) => ({ projectId: ref.projectId, version: ref.version }),
    deployedBy: (r) => byRelease.get(key(r))?.deployedBy ?? null,
    notes: (r) => byRelease.get(key(r))?.notes ?? null,
  },
  Project: {
    __resolveReference: (ref) => ({ id: ref.id }),
    deploymentsCount: (p) => deployments.filter((d) => d.project === p.id).length,
  },
};

await serve(new ApolloServer({ schema: buildSubgraphSchema({ typeDefs, resolvers }) }));
