// A third subgraph, holding relhealth's entities by their other keys: `Release` by its
// global `id` (as relhealth issued it) and `Project` by its numeric `projectId`. It
// contributes `Release.owner` and `Project.team`.
// OWNERSHIPS (JSON): [{id, release, projectId, owner, team}], `release` a relhealth id.
import { require, serve } from "./deps.mjs";

const { ApolloServer } = require("@apollo/server");
const { buildSubgraphSchema } = require("@apollo/subgraph");
const { parse } = require("graphql");

const typeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])

  type Release @key(fields: "id") {
    id: ID!
    owner: String
  }

  type Project @key(fields: "projectId") {
    projectId: ID!
    team: String
  }

  type Ownership {
    id: ID!
    release: Release
    project: Project
  }

  type Query {
    ownerships: [Ownership!]!
  }
`);

const ownerships = JSON.parse(process.env.OWNERSHIPS ?? "[]");

const resolvers = {
  Query: { ownerships: () => ownerships },
  Ownership: {
    release: (o) => ({ id: o.release }),
    project: (o) => ({ projectId: o.projectId }),
  },
  Release: {
    __resolveReference: (ref) => ({ id: ref.id }),
    owner: (r) => ownerships.find((o) => o.release === r.id)?.owner ?? null,
  },
  Project: {
    __resolveReference: (ref) => ({ projectId: ref.projectId }),
    team: (p) => ownerships.find((o) => String(o.projectId) === String(p.projectId))?.team ?? null,
  },
};

await serve(new ApolloServer({ schema: buildSubgraphSchema({ typeDefs, resolvers }) }));
