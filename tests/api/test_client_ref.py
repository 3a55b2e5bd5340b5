"""An order's client reference: sent with the order, stored, and returned everywhere the order is shown."""

from __future__ import annotations

import uuid

import httpx

from tests.api.test_api import ORDER, submit, wait_terminal


async def test_a_client_reference_is_stored_and_returned(client: httpx.AsyncClient) -> None:
    ref = f"desk-7/{uuid.uuid4().hex[:12]}"
    r = await submit(client, {**ORDER, "clientRef": ref})
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["order"]["clientRef"] == ref
    done = await wait_terminal(client, accepted["orderId"])
    assert done["clientRef"] == ref and done["status"] == "confirmed"
    recent = (await client.get("/api/orders/recent", params={"limit": 50})).json()["orders"]
    assert [o["clientRef"] for o in recent if o["orderId"] == accepted["orderId"]] == [ref]
    plain = (await submit(client)).json()
    assert plain["order"]["clientRef"] is None


async def test_a_client_reference_is_part_of_the_request(client: httpx.AsyncClient) -> None:
    key = uuid.uuid4().hex
    first = await submit(client, {**ORDER, "clientRef": "a"}, **{"Idempotency-Key": key})
    again = await submit(client, {**ORDER, "clientRef": "a"}, **{"Idempotency-Key": key})
    other = await submit(client, {**ORDER, "clientRef": "b"}, **{"Idempotency-Key": key})
    assert (first.status_code, again.status_code, other.status_code) == (202, 200, 409)
    assert again.json()["orderId"] == first.json()["orderId"]


async def test_a_bad_client_reference_is_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    for bad in ("", "x" * 65, "with space", 7):
        r = await submit(client, {**ORDER, "clientRef": bad})
        assert r.status_code in (400, 422), (bad, r.text)
        fields = [f["field"] for f in r.json()["error"]["fields"]]
        assert fields == ["clientRef"], (bad, r.text)
