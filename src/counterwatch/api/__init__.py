"""The HTTP API (FastAPI): authentication, roles and scopes, one router per area of work."""
