"""Routing and health: strategies, the circuit breaker, failover and recovery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from smsgate.db.models import DispatchAttempt
from smsgate.gateway import Gateway
from smsgate.vendors.base import (
    OutboundMessage,
    PermanentVendorError,
    Submitted,
    TransientVendorError,
    Vendor,
)
from smsgate.vendors.routing import Breaker, Route, Router
from tests.conftest import Tenant, fast_settings, serving, wait_for_state
from tests.vendors.fake_twilio import FakeTwilio


class Named(Vendor):
    kind = "test"

    def __init__(self, name: str) -> None:
        self.name = name

    async def send(self, message: OutboundMessage) -> Submitted:
        return Submitted("x")


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def router(routes: list[Route], **kw: object) -> tuple[Router, Clock]:
    clock = Clock()
    vendors = {n: Named(n) for n in ("a", "b", "simulator")}
    return Router(vendors, "simulator", routes, clock=clock, **kw), clock  # type: ignore[arg-type]


def test_breaker_opens_probes_and_closes() -> None:
    clock = Clock()
    b = Breaker(failure_threshold=3, open_seconds=10, clock=clock)
    for _ in range(2):
        b.failed()
    assert b.state == "closed" and b.allow()
    b.failed()
    assert b.state == "open" and not b.allow()
    clock.t = 10
    assert b.state == "half_open" and b.allow() and not b.allow()  # one probe at a time
    b.failed()
    assert b.state == "open"
    clock.t = 20
    assert b.allow()
    b.succeeded()
    assert b.state == "closed" and b.failures == 0


def test_routes_match_by_country_prefix_and_kind() -> None:
    r, _ = router(
        [
            Route(vendors=("a",), kinds=frozenset({"otp"})),
            Route(vendors=("b",), prefixes=("+4477",)),
            Route(vendors=("a",), countries=frozenset({"DE"})),
        ]
    )
    assert r.choose("+15005550006", "otp", None).name == "a"
    assert r.choose("+447700900123", "transactional", None).name == "b"
    assert r.choose("+4915112345678", "transactional", None).name == "a"
    assert r.choose("+15005550006", "transactional", None).name == "simulator"
    assert r.choose("+15005550006", "otp", "b").name == "b"  # a pin wins
    with pytest.raises(PermanentVendorError):
        r.choose("+15005550006", "otp", "nope")


def test_priority_fails_over_and_comes_back() -> None:
    r, clock = router([Route(vendors=("a", "b"))], failure_threshold=2, open_seconds=5)
    assert r.choose("+15005550006", "transactional", None).name == "a"
    r.report("a", TransientVendorError("x", "down"))
    r.report("a", TransientVendorError("x", "down"))
    assert r.choose("+15005550006", "transactional", None).name == "b"
    clock.t = 5
    assert r.choose("+15005550006", "transactional", None).name == "a"  # the probe
    assert r.choose("+15005550006", "transactional", None).name == "b"
    r.report("a", None)
    assert r.choose("+15005550006", "transactional", None).name == "a"
    assert r.health() == {"a": "closed", "b": "closed", "simulator": "closed"}


def test_permanent_errors_are_answers_not_outages() -> None:
    r, _ = router([Route(vendors=("a", "b"))], failure_threshold=2)
    r.report("a", TransientVendorError("x", "down"))
    r.report("a", PermanentVendorError("bad_number", "the vendor answered"))
    r.report("a", TransientVendorError("x", "down"))
    assert r.choose("+15005550006", "transactional", None).name == "a"


def test_all_unhealthy_waits_in_the_queue() -> None:
    r, _ = router([Route(vendors=("a",))], failure_threshold=1)
    r.report("a", TransientVendorError("x", "down"))
    with pytest.raises(TransientVendorError) as info:
        r.choose("+15005550006", "transactional", None)
    assert info.value.code == "no_vendor_available"


def test_least_cost_and_weighted() -> None:
    prices = {"a": {"US": Decimal("0.009")}, "b": {"US": Decimal("0.004"), "default": Decimal("1")}}
    r, _ = router(
        [Route(vendors=("a", "b"), strategy="least_cost")], prices=prices, failure_threshold=1
    )
    assert r.choose("+15005550006", "transactional", None).name == "b"
    assert r.choose("+4915112345678", "transactional", None).name == "b"  # a has no DE price
    r.report("b", TransientVendorError("x", "down"))
    assert r.choose("+15005550006", "transactional", None).name == "a"
    w, _ = router([Route(vendors=("a", "b"), strategy="weighted", weights=(1, 0))])
    assert {w.choose("+15005550006", "transactional", None).name for _ in range(20)} == {"a"}


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture
async def failover_gateway(
    db_url: str, tmp_path: Path, fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Gateway, httpx.AsyncClient, Tenant]]:
    monkeypatch.setenv("FAKE_TWILIO_TOKEN", fake.auth_token)
    config = tmp_path / "smsgate.toml"
    config.write_text(
        f'[vendors.primary]\ntype = "twilio"\naccount_sid = "{fake.account_sid}"\n'
        'auth_token = { env = "FAKE_TWILIO_TOKEN" }\nfrom = "+15005550000"\n'
        f'base_url = "{fake.base_url}"\n\n'
        '[[routes]]\nvendors = ["primary", "simulator"]\n\n'
        "[breaker]\nfailure_threshold = 3\nopen_seconds = 1.0\n"
    )
    gw = Gateway.build(
        fast_settings(db_url, tmp_path / "d", config_file=config, vendor_timeout_seconds=2.0)
    )
    async with serving(gw) as (c, tenant):
        yield gw, c, tenant


@pytest.mark.anyio
async def test_outage_fails_over_loses_nothing_and_recovers(
    failover_gateway: tuple[Gateway, httpx.AsyncClient, Tenant], fake: FakeTwilio
) -> None:
    gw, c, tenant = failover_gateway
    fake.down = True
    ids = []
    for i in range(20):
        r = await c.post(
            "/v1/sms/send", json={"to": "+14155550123", "body": f"m{i}"}, headers=tenant.headers
        )
        ids.append(r.json()["sms_id"])
    finals = [await wait_for_state(c, tenant, i, {"delivered"}, timeout=20) for i in ids]
    assert {f["vendor"] for f in finals} == {"simulator"}
    assert gw.router.health()["primary"] in ("open", "half_open")
    async with gw.db.reader() as s:
        failed_on_primary = len(
            list(
                await s.scalars(
                    select(DispatchAttempt.id).where(
                        DispatchAttempt.vendor == "primary",
                        DispatchAttempt.outcome == "transient_error",
                    )
                )
            )
        )
    assert 3 <= failed_on_primary < 20  # the breaker stopped the bleeding
    # Recovery: once the breaker's open time is over, a probe succeeds and traffic returns.
    fake.down = False
    await asyncio.sleep(1.1)
    back = []
    for i in range(5):
        r = await c.post(
            "/v1/sms/send",
            json={"to": "+14155550123", "body": f"again {i}"},
            headers=tenant.headers,
        )
        back.append((await wait_for_state(c, tenant, r.json()["sms_id"], {"sent"}))["vendor"])
    assert back[-1] == "primary" and gw.router.health()["primary"] == "closed"


def test_untracked_vendors_never_open() -> None:
    r, _ = router([Route(vendors=("simulator",))], failure_threshold=1)
    r.vendors["simulator"].health_tracked = False  # type: ignore[misc]
    for _ in range(5):
        r.report("simulator", TransientVendorError("carrier_busy", "scripted failure"))
    assert r.health()["simulator"] == "closed"


@pytest.mark.anyio
async def test_waiting_for_a_vendor_spends_no_attempts(
    db_url: str, tmp_path: Path, fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only vendor down, breaker open: the message waits, then goes out on the probe,
    although the wait spanned more cycles than max_attempts allows."""
    monkeypatch.setenv("FAKE_TWILIO_TOKEN", fake.auth_token)
    config = tmp_path / "smsgate.toml"
    config.write_text(
        f'default_vendor = "only"\n[vendors.only]\ntype = "twilio"\n'
        f'account_sid = "{fake.account_sid}"\nauth_token = {{ env = "FAKE_TWILIO_TOKEN" }}\n'
        f'from = "+15005550000"\nbase_url = "{fake.base_url}"\n'
        "[breaker]\nfailure_threshold = 1\nopen_seconds = 1.5\n"
    )
    gw = Gateway.build(
        fast_settings(
            db_url,
            tmp_path / "d",
            config_file=config,
            max_attempts=2,
            retry_base_seconds=0.05,
            retry_max_seconds=0.1,
        )
    )
    fake.down = True
    async with serving(gw) as (c, tenant):
        r = await c.post(
            "/v1/sms/send", json={"to": "+14155550123", "body": "x"}, headers=tenant.headers
        )
        sms_id = r.json()["sms_id"]
        await asyncio.sleep(1.0)  # breaker open: the message waits, spending nothing
        rec = (await c.get(f"/v1/sms/{sms_id}", headers=tenant.headers)).json()
        assert rec["state"] in ("queued", "sending")
        events = (await c.get(f"/v1/sms/events/{sms_id}", headers=tenant.headers)).json()
        # One wait per breaker period, not one per poll.
        assert len(events["items"]) <= 6
        fake.down = False
        rec = await wait_for_state(c, tenant, sms_id, {"sent"}, timeout=10)
        assert rec["vendor"] == "only"
        async with gw.db.reader() as s:
            outcomes = list(
                await s.scalars(
                    select(DispatchAttempt.outcome)
                    .where(DispatchAttempt.sms_id == sms_id)
                    .order_by(DispatchAttempt.attempt)
                )
            )
        assert outcomes == ["transient_error", "submitted"]
