"""The OpenAI-compatible HTTP server (FastAPI): `app.create_app(service, settings)`, with
`settings.ServerSettings`. Nothing is imported here, so the CLI can read the defaults in
`settings` without loading FastAPI."""
