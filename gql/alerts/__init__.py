"""API v2's crash-rate and adoption alerts (issue 10 section 3): `AlertRule`, its
incidents and its mutations. The evaluator is `jobs/alerts.py`."""
