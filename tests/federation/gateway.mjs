// A real Apollo gateway composing the subgraphs at startup (IntrospectAndCompose).
// SUBGRAPHS (JSON): [{name, url}]; RELHEALTH_TOKEN: the token used to read the subgraphs'
// SDL. Queries forward the client's own Authorization header, and nothing else.
import { require, serve } from "./deps.mjs";

const { ApolloServer } = require("@apollo/server");
const { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } = require("@apollo/gateway");

class AuthorizationForwarding extends RemoteGraphQLDataSource {
  willSendRequest({ request, context }) {
    // Client requests carry `fromClient` (see `context` below); composition does not.
    const authorization = context?.fromClient
      ? context.authorization
      : `Bearer ${process.env.RELHEALTH_TOKEN}`;
    if (authorization) request.http.headers.set("authorization", authorization);
  }
}

const gateway = new ApolloGateway({
  supergraphSdl: new IntrospectAndCompose({ subgraphs: JSON.parse(process.env.SUBGRAPHS) }),
  buildService: ({ url }) => new AuthorizationForwarding({ url }),
});

await serve(new ApolloServer({ gateway }), {
  context: async ({ req }) => ({ fromClient: true, authorization: req.headers.authorization }),
});
