"""Which vendor sends a message: routes, strategies, and per-vendor health.

A route matches a message by destination country, number prefix and kind
(``otp``, ``transactional``, ``marketing``); the first route that matches gives an
ordered list of vendors and a strategy:

* ``priority``: the first healthy vendor of the list;
* ``weighted``: a healthy vendor at random, by ``weights``;
* ``least_cost``: the healthy vendor with the lowest price for the destination.

No route matches: the default vendor. A message pinned with ``vendor`` goes to that
vendor whatever its health.

Health is a circuit breaker per vendor, per process: ``failure_threshold`` transient
failures in a row open it, and for ``open_seconds`` the vendor gets no traffic
(messages go to the next vendor of their route, or wait in the queue if there is
none); then one message probes it (half-open): success closes the breaker, failure
opens it again. Permanent failures (a bad number) say nothing about the vendor's
health and count as answers.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Literal

import phonenumbers

from smsgate.vendors.base import (
    NoVendorAvailable,
    PermanentVendorError,
    TransientVendorError,
    Vendor,
)

Strategy = Literal["priority", "weighted", "least_cost"]


@lru_cache(maxsize=65_536)
def region_of(e164: str) -> str | None:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None


@dataclass(frozen=True)
class Route:
    vendors: tuple[str, ...]
    strategy: Strategy = "priority"
    countries: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    kinds: frozenset[str] = frozenset()
    weights: tuple[float, ...] = ()

    def matches(self, to: str, kind: str) -> bool:
        if self.kinds and kind not in self.kinds:
            return False
        if self.prefixes and not to.startswith(self.prefixes):
            return False
        return not self.countries or region_of(to) in self.countries


@dataclass
class Breaker:
    failure_threshold: int = 5
    open_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    open_until: float | None = None
    probing: bool = False

    @property
    def state(self) -> Literal["closed", "open", "half_open"]:
        if self.open_until is None:
            return "closed"
        return "open" if self.clock() < self.open_until else "half_open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self.probing:
            self.probing = True  # this one message is the probe
            return True
        return False

    def succeeded(self) -> None:
        self.failures, self.open_until, self.probing = 0, None, False

    def failed(self) -> None:
        self.failures += 1
        if self.probing or self.failures >= self.failure_threshold:
            self.open_until = self.clock() + self.open_seconds
            self.probing = False


@dataclass
class Router:
    vendors: Mapping[str, Vendor]
    default: str
    routes: Sequence[Route] = ()
    prices: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)
    """Per vendor: price per segment by region, ``default`` for the rest."""
    failure_threshold: int = 5
    open_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    breakers: dict[str, Breaker] = field(default_factory=dict)

    def breaker(self, name: str) -> Breaker:
        if name not in self.breakers:
            self.breakers[name] = Breaker(self.failure_threshold, self.open_seconds, self.clock)
        return self.breakers[name]

    def choose(self, to: str, kind: str, pinned: str | None) -> Vendor:
        """The vendor for one message. Raises ``PermanentVendorError`` for an unknown pin and
        ``TransientVendorError`` when every vendor of the route is unhealthy (retry later)."""
        if pinned is not None:
            if pinned not in self.vendors:
                raise PermanentVendorError(
                    "unknown_vendor", f"No vendor named {pinned!r} is configured."
                )
            return self.vendors[pinned]
        route = next((r for r in self.routes if r.matches(to, kind)), None)
        names = route.vendors if route else (self.default,)
        strategy = route.strategy if route else "priority"
        candidates = [n for n in names if n in self.vendors]
        if strategy == "priority":
            chosen = next((n for n in candidates if self.breaker(n).allow()), None)
            if chosen is None:
                raise self._none_available(candidates)
            return self.vendors[chosen]
        pool = [n for n in candidates if self.breaker(n).state == "closed"]
        if not pool:  # nobody healthy: let one recovering vendor take a probe
            pool = next(([n] for n in candidates if self.breaker(n).allow()), [])
        if not pool:
            raise self._none_available(candidates)
        if strategy == "weighted" and route is not None and route.weights:
            weights = [route.weights[names.index(n)] for n in pool]
            return self.vendors[random.choices(pool, weights=weights)[0]]
        if strategy == "weighted":
            return self.vendors[random.choice(pool)]
        region = region_of(to) or ""
        return self.vendors[min(pool, key=lambda n: (self.price(n, region), pool.index(n)))]

    def _none_available(self, candidates: Sequence[str]) -> NoVendorAvailable:
        """Come back when the first breaker of the route lets a probe through."""
        now = self.clock()
        reopen = [
            b.open_until - now
            for b in (self.breaker(n) for n in candidates)
            if b.open_until is not None
        ]
        return NoVendorAvailable(
            "no_vendor_available",
            "Every vendor of this route is failing; retrying later.",
            retry_after=max(0.05, min(reopen, default=1.0)),
        )

    def price(self, vendor: str, region: str) -> Decimal:
        table = self.prices.get(vendor, {})
        return table.get(region, table.get("default", Decimal("Infinity")))

    def report(self, vendor: str, error: Exception | None) -> None:
        """Feed an attempt's outcome to the vendor's breaker."""
        if vendor not in self.vendors or not self.vendors[vendor].health_tracked:
            return
        if isinstance(error, TransientVendorError):
            self.breaker(vendor).failed()
        else:
            self.breaker(vendor).succeeded()

    def health(self) -> dict[str, str]:
        return {name: self.breaker(name).state for name in self.vendors}
