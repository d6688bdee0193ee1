"""API v1 (the Sentry-function-shaped schema), frozen and deprecated: served at /graphql/v1
until its sunset date (CHANGELOG, docs/graphql-v2.md). New fields go to v2 only."""
