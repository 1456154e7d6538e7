"""Signed webhooks for call, campaign and callback events, delivered from a persistent outbox (docs/webhooks.md)."""
