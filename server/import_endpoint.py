"""POST /api/0/organizations/{org}/sessions/import/: bulk import through the API.

Body: the JSON-lines format of `relhealth import`. Needs a token of the organization with
`org:write` or `org:admin`. `?import_id=` names the import (default: the SHA-256 of the
body), which makes re-sending the same body a no-op. Import ids belong to the organization:
the same id in another organization is another import.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from jobs.importer import content_import_id, run_import
from server.auth import authorize_org
from server.responses import JSONResponse, error
from server.services import Services

#: `import_chunk.import_id` is a VARCHAR(128).
MAX_IMPORT_ID_LENGTH = 128


async def import_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    org = request.path_params["org"]
    token = await authorize_org(request, services.accounts, org, write=True)
    if isinstance(token, Response):
        return token
    body = await request.body()
    if len(body) > services.settings.max_import_size:
        return error(413, "import body too large; use `relhealth import` for large files")
    import_id = request.query_params.get("import_id") or content_import_id(body)
    if len(import_id) > MAX_IMPORT_ID_LENGTH:
        return error(400, f"import_id is longer than {MAX_IMPORT_ID_LENGTH} characters")
    report = await run_import(
        body.splitlines(),
        import_id=import_id,
        store=services.store,
        accounts=services.accounts,
        received_at=services.clock.now(),
        only_org=org,
        scope=token.org_id,  # import ids are the organization's own (storage.imports)
    )
    return JSONResponse(report.as_json())
