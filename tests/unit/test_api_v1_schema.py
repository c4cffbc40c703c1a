"""A bounded schemathesis run of the JSON API against its own OpenAPI document, served
by the full application: no 5xx, and every answer conforms to the document."""

from __future__ import annotations

import asyncio

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.core.result import Ok

from tests.apiv1kit import seed


def test_schemathesis_against_openapi() -> None:
    """Generated requests to every operation: no 5xx, answers conform to the schema."""
    world = asyncio.run(seed())
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", world.app)
    headers = {"Authorization": f"Bearer {world.alice}"}
    operations = [r for r in schema.get_all_operations() if isinstance(r, Ok)]
    assert len(operations) == 7
    for result in operations:
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: schemathesis.Case) -> None:
            # a value of the right shape may still be refused (422): a cursor of the right
            # alphabet that we did not give, a date of the right shape that does not exist
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        run()
