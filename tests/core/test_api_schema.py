"""The OpenAPI schema and its interactive documentation."""

from __future__ import annotations

import pytest
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_the_schema_is_valid_openapi_with_every_endpoint():
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)  # raises on a schema that breaks the OpenAPI 3 specification
    assert schema["openapi"].startswith("3.")
    for path in [
        "/api/auth/token/",
        "/api/chargers/",
        "/api/chargers/{charger_id}/",
        "/api/chargers/{charger_id}/approve/",
        "/api/chargers/{charger_id}/reject/",
        "/api/chargers/{charger_id}/connectors/",
        "/api/chargers/{charger_id}/configuration/",
        "/api/connectors/",
        "/api/transactions/",
        "/api/transactions/{id}/",
        "/api/transactions/{id}/meter-values/",
        "/api/id-tags/",
        "/api/id-tags/{id_tag}/",
        "/api/commands/",
        "/api/commands/{id}/",
    ]:
        assert path in schema["paths"], path
    assert "post" in schema["paths"]["/api/commands/"]
    filters = {p["name"] for p in schema["paths"]["/api/transactions/"]["get"]["parameters"]}
    assert {"station", "active", "id_tag", "page"} <= filters
    assert "tokenAuth" in schema["components"]["securitySchemes"]


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_docs_load_their_scripts_from_this_server(url):
    response = APIClient().get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn.jsdelivr.net" not in html
    assert "/api/schema/" in html
