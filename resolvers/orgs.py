"""The organization rules of the backend functions (release-health.md section 5)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from resolvers.errors import InvalidQuery

SAME_ORGANIZATION: Final = "Expected projects to be from the same organization"
SPECIFIED_ORGANIZATION: Final = "Expected projects to be from the specified organization"


def check_organization(
    project_orgs: Mapping[int, int], project_ids: Sequence[int], org_id: int | None = None
) -> int | None:
    """The one organization of `project_ids` (None for no projects).

    `project_orgs` maps project id -> organization id; a project missing from it is
    unknown and ignored here (callers treat it as having no data). Projects of several
    organizations fail with upstream's message; with `org_id`, projects of another
    organization fail with the "specified organization" message.
    """
    orgs = {project_orgs[p] for p in project_ids if p in project_orgs}
    if len(orgs) > 1:
        raise InvalidQuery(SAME_ORGANIZATION)
    found = next(iter(orgs), None)
    if org_id is not None and found is not None and found != org_id:
        raise InvalidQuery(SPECIFIED_ORGANIZATION)
    return found
