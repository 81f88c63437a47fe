"""The REST API's request and response bodies (pydantic), one module per domain, so the OpenAPI
schema describes every body."""
