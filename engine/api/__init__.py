"""The REST API under /api/v1: JSON resources over the store and the live ACD, integration tokens, OpenAPI 3.1."""
