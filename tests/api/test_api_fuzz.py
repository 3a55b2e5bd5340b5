"""schemathesis against the running API: every operation, generated from the OpenAPI document itself.

Each case must be answered without a 5xx, with a status, content type and body that the document
declares for that operation, and input the document calls invalid must be refused. Hypothesis draws
valid input and invalid input (wrong types, missing fields, out-of-range numbers, odd headers) for
every operation, then the stateful run chains operations through the links the document gives or
schemathesis infers (a submission's ``orderId`` into the order's read).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from engine.api.submission import IDEMPOTENCY_KEY_PATTERN
from tests.support import EngineProcesses, base_env, migrated_database

# The 4 operations that take input x (150 valid + 120 invalid cases), and the 2 that take none once
# each (their only case): over 1,000 cases in all.
CASES = {GenerationMode.POSITIVE: 150, GenerationMode.NEGATIVE: 120}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def fuzz_settings(cases: int) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=cases, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True
    )


@pytest.fixture(scope="module")
def fuzzed_engine(servers: tuple[str, str]) -> Iterator[EngineProcesses]:
    """A deployment of its own (database, so namespace too): what the fuzz does (launching pools, cancelling
    orders) is seen by no other test."""
    with migrated_database(servers[0], prefix="oee_fuzz") as url:
        env = base_env(url, servers[1], QUEUE_NAME=f"oee:fuzz:{uuid.uuid4().hex[:6]}")
        with EngineProcesses.running(env) as engine:
            yield engine


@pytest.fixture(scope="module")
def api_schema(fuzzed_engine: EngineProcesses) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{fuzzed_engine.base_url}/openapi.json")
    schema.config.update(headers=fuzzed_engine.headers)  # every case sends the key; 401 is tested on its own
    return schema


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_documented(api_schema: schemathesis.BaseSchema, mode: GenerationMode) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 8
    # Input besides the API key header, which every case sends (401 is tested on its own).
    taking_input = [
        op for op in operations
        if op.body or op.query or op.path_parameters or [h for h in op.headers if h.name != "X-API-Key"]
    ]  # fmt: skip
    assert len(taking_input) == 6
    if mode is GenerationMode.NEGATIVE:  # an operation that takes no input has no invalid input
        operations = taking_input
    calls = 0
    for operation in operations:

        @fuzz_settings(CASES[mode])
        @given(case=operation.as_strategy(generation_mode=mode))
        def answers_as_documented(case: schemathesis.Case) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate(checks=CHECKS)

        try:
            answers_as_documented()
        except hypothesis.errors.Unsatisfiable as exc:
            raise AssertionError(f"{operation.label}: no {mode.value} case") from exc
    assert calls >= len(taking_input) * CASES[mode]


def test_chains_of_operations_answer_as_documented(
    api_schema: schemathesis.BaseSchema, fuzzed_engine: EngineProcesses
) -> None:
    class Chains(api_schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: schemathesis.Case) -> None:
            case.headers = {**(case.headers or {}), **fuzzed_engine.headers}
            # A generated key may repeat one sent earlier in the run, and then the same steps answer 200
            # instead of 202 and Hypothesis sees the run change under it. A valid key is made unique.
            key = (case.headers or {}).get("Idempotency-Key")
            if isinstance(key, str) and re.match(IDEMPOTENCY_KEY_PATTERN, key):
                case.headers["Idempotency-Key"] = uuid.uuid4().hex

        def validate_response(
            self, response: schemathesis.Response, case: schemathesis.Case, *args: Any, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS)

    Chains.run(settings=hypothesis.settings(fuzz_settings(40), stateful_step_count=6))
