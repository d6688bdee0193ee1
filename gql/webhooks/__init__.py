"""Webhook endpoints and their deliveries in API v2 (issue 10 section 4)."""
