"""Work that runs outside the HTTP transport: the demo data, bulk imports and the
retention cleanup. The server wires them in (`relhealth serve --demo`, the import
endpoint, the periodic cleanup); the CLI runs them on their own."""
