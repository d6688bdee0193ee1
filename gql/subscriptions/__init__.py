"""GraphQL subscriptions (issue 10 section 4): the health event log (`storage.events`)
fanned out to `graphql-transport-ws` subscribers by one broadcaster per process."""
