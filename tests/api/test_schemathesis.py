"""Property tests from the OpenAPI document (schemathesis), bounded to a few examples per operation.

With a full-scope token: schema-valid requests get no 5xx and every response conforms to the documented
status codes, media types and schemas (a schema-valid body may still get 422 for what a schema cannot say,
such as a number that is no phone number, so the "positive data accepted" check is left out); requests that
break the schema get a documented 4xx, never a 5xx."""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from engine.store.repos.customers import CustomerRepository

BOUNDED = settings(deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))


def _operations(api):
    CustomerRepository(api.store).upsert(["13911112222"], name="王芳", segment="vip")
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", api.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(item) for item in api.client().get("/api/openapi.json").get_json()["paths"].values())
    return operations, {"Authorization": f"Bearer {api.token('*')}"}


def test_schema_valid_requests(sqlite_api):
    operations, auth = _operations(sqlite_api)
    for operation in operations:
        @settings(BOUNDED, max_examples=6)
        @given(case=operation.as_strategy())
        def run(case) -> None:
            response = case.call(headers=auth)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
            case.validate_response(response, headers=auth, excluded_checks=[positive_data_acceptance])

        run()


def test_schema_breaking_requests_get_a_4xx(sqlite_api):
    operations, auth = _operations(sqlite_api)
    for operation in operations:
        if not operation.query and not operation.body and not operation.path_parameters:
            continue  # nothing to break
        @settings(BOUNDED, max_examples=3)
        @given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE))
        def run(case) -> None:
            response = case.call(headers=auth)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
            case.validate_response(response, headers=auth, checks=[not_a_server_error])

        run()
