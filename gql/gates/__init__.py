"""API v2's health gates (issue 10 section 2): `HealthGate`, its mutations and the verdict
on `ReleaseHealth.gate`."""
