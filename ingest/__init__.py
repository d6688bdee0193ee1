"""The pure ingest layer: request bytes in, typed values and storage increments out.

No I/O, no database, no web framework. Reading order follows a request:

* `credentials` - the DSN public key of a request (`ingest.md` 2)
* `encoding` - Content-Encoding (4)
* `envelope` - framing, size limits, the success body (3, 5, 6.1)
* `request` - all of the above in the endpoint's order
* `payloads`, `timestamps`, `uuids` - strict parsing of session payloads (8, 9)
* `release` - release and environment validation (10)
* `items` - the per-item pipeline and its outcome counters (10, 15)
* `quantities` - accepted data as stored quantities (`release-health.md` 2)
* `errors` - the rejection of a whole request
"""
