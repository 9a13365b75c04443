"""Issue 4's SMPP acceptance, through the whole gateway, against the independent SMSC."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from smsgate.db.models import Message
from tests.e2e.server import free_port
from tests.smpp.harness import smpp_gateway
from tests.smpp.independent import IndependentSmsc

pytestmark = pytest.mark.anyio


@pytest.fixture
async def smsc() -> AsyncIterator[IndependentSmsc]:
    server = IndependentSmsc(free_port())
    await server.start()
    yield server
    await server.stop()


async def test_ten_thousand_messages_window_ten(
    db_url: str, tmp_path: Path, smsc: IndependentSmsc
) -> None:
    n = 10_000
    async with smpp_gateway(db_url, tmp_path, smsc, window=10) as gw:
        started = time.monotonic()
        ids = await gw.send_many([f"message {i}" for i in range(n)])
        await gw.wait_all("delivered", n, timeout=240)
        elapsed = time.monotonic() - started
        print(f"{n} messages delivered in {elapsed:.1f}s")
        assert await gw.states() == {"delivered": n}
        # Every submit_sm answered and matched: one submit per message, no more.
        assert len(smsc.received) == n
        assert sorted(smsc.texts()) == sorted(f"message {i}" for i in range(n))
        async with gw.gateway.db.reader() as session:
            refs = dict(
                (await session.execute(select(Message.id, Message.vendor_message_id))).all()
            )
        assert set(refs) == set(ids)
        assert sorted(refs.values()) == sorted(r.message_id.lower() for r in smsc.received)
        assert smsc.receipts_sent == n


async def test_three_part_gsm7_message_has_correct_udh(
    db_url: str, tmp_path: Path, smsc: IndependentSmsc
) -> None:
    body = ("Long message with an escape € in it. " * 12)[:400]
    async with smpp_gateway(db_url, tmp_path, smsc) as gw:
        [sms_id] = await gw.send_many([body])
        await gw.wait_all("delivered", 1, timeout=20)
        parts = smsc.received
        assert len(parts) == 3
        headers = [p.short_message[:6] for p in parts]
        reference = headers[0][3]
        assert headers == [bytes([5, 0, 3, reference, 3, n]) for n in (1, 2, 3)]
        assert all(p.esm_class & 0x40 and p.data_coding == 0 for p in parts)
        assert all(len(p.short_message) - 6 <= 153 for p in parts)
        assert smsc.texts() == [body]
        # Three parts, three receipts: delivered once every part is.
        r = await gw.client.get(f"/v1/sms/status/{sms_id}", headers=gw.tenant.headers)
        assert r.json()["segments"] == 3


async def test_ucs2_message(db_url: str, tmp_path: Path, smsc: IndependentSmsc) -> None:
    body = "Привет, мир! 你好 👋"
    async with smpp_gateway(db_url, tmp_path, smsc) as gw:
        await gw.send_many([body])
        await gw.wait_all("delivered", 1, timeout=20)
        [part] = smsc.received
        assert part.data_coding == 8
        assert part.short_message == body.encode("utf-16-be")


async def test_throttling_slows_the_bind_and_loses_nothing(
    db_url: str, tmp_path: Path, smsc: IndependentSmsc
) -> None:
    smsc.throttle_every = 7
    n = 300
    async with smpp_gateway(db_url, tmp_path, smsc, throttle_pause=0.05) as gw:
        await gw.send_many([f"t{i}" for i in range(n)])
        await gw.wait_all("delivered", n, timeout=120)
        assert smsc.throttled >= n // 7 - 1
        assert sorted(smsc.texts()) == sorted(f"t{i}" for i in range(n))
        assert len(smsc.received) == n  # a throttled submit was not taken: no duplicates


async def test_dropped_connection_reconnects_with_at_most_a_window_of_duplicates(
    db_url: str, tmp_path: Path, smsc: IndependentSmsc
) -> None:
    n, window = 1000, 10
    smsc.drop_after = 400
    async with smpp_gateway(db_url, tmp_path, smsc, window=window) as gw:
        await gw.send_many([f"d{i}" for i in range(n)])
        await gw.wait_all("delivered", n, timeout=120)
        assert smsc.drops == 1
        seen = Counter(smsc.texts())
        assert set(seen) == {f"d{i}" for i in range(n)}  # every accepted message was sent
        duplicates = sum(c - 1 for c in seen.values())
        print(f"duplicates after the drop: {duplicates}")
        assert duplicates <= window
        assert await gw.states() == {"delivered": n}


@pytest.mark.parametrize("receipt_format", ["hex", "dec"])
async def test_receipt_before_submit_response_is_matched(
    db_url: str, tmp_path: Path, smsc: IndependentSmsc, receipt_format: str
) -> None:
    """Also when the receipt writes the id in decimal: it cannot be read until the
    response it overtook brings the (hex) id."""
    smsc.early_receipts = True
    smsc.receipt_format = receipt_format
    n = 50
    async with smpp_gateway(db_url, tmp_path, smsc) as gw:
        await gw.send_many([f"e{i}" for i in range(n)])
        await gw.wait_all("delivered", n, timeout=30)
        assert smsc.receipts_sent == n


async def test_inbound_messages_single_and_two_part(
    db_url: str, tmp_path: Path, smsc: IndependentSmsc
) -> None:
    async with smpp_gateway(db_url, tmp_path, smsc) as gw:
        await gw.send_many(["hello, reply please"], to="+447911123456")
        await gw.wait_all("delivered", 1, timeout=20)
        long = "This reply is long enough to need two parts. " * 5
        await smsc.send_mo("447911123456", "15550001111", "YES")
        await smsc.send_mo("447911123456", "15550001111", long, reference=77)
        r = await gw.client.get("/v1/sms/inbound/list", headers=gw.tenant.headers)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert [(i["from"], i["to"], i["body"], i["segments"]) for i in items] == [
            ("+447911123456", "+15550001111", long, 2),
            ("+447911123456", "+15550001111", "YES", 1),
        ]
        assert all(i["id"].startswith("inb_") and i["vendor"] == "smsc1" for i in items)
        r = await gw.client.get(
            "/v1/sms/inbound/list",
            params={"from": "+447911123456", "limit": 1},
            headers=gw.tenant.headers,
        )
        assert len(r.json()["items"]) == 1 and r.json()["next_cursor"]


async def test_vendor_list_shows_binds_and_breaker(
    db_url: str, tmp_path: Path, smsc: IndependentSmsc
) -> None:
    async with smpp_gateway(db_url, tmp_path, smsc, binding="transmitter_receiver") as gw:
        await gw.send_many(["warm up"])
        await gw.wait_all("delivered", 1, timeout=20)
        r = await gw.client.get("/v1/vendors", headers=gw.tenant.headers)
        assert r.status_code == 200, r.text
        smpp = next(v for v in r.json()["items"] if v["name"] == "smsc1")
        assert smpp["health"] == "closed" and smpp["type"] == "smpp"
        assert [(c["mode"], c["bound"]) for c in smpp["connections"]] == [
            ("transmitter", True),
            ("receiver", True),
        ]
        assert '"secret"' not in r.text  # the bind password
        simulator = next(v for v in r.json()["items"] if v["name"] == "simulator")
        assert simulator["health"] is None and simulator["connections"] is None
