"""The namespaces (``client.sms``, ``client.sms.batch``, ...), written once for both clients.

A namespace class is generic in the client's mode, ``Sync`` or ``Async``:
``Client.sms`` is ``SmsAPI[Sync]`` and ``AsyncClient.sms`` is ``SmsAPI[Async]``. Its
methods are ``endpoint``/``pager`` descriptors around the call builders of ``_calls``;
they keep the builder's signature and docstring, and their return type follows the
mode: ``endpoint(build)`` gives ``T`` on a sync client and an awaitable ``T`` on an
async one; ``pager(build)`` gives an ``Iterator[T]`` or an ``AsyncIterator[T]`` over
every item of every page.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Generic, ParamSpec, Protocol, Self, TypeVar, final, overload

from pydantic import BaseModel

from smsgate.client import _calls as calls
from smsgate.client._core import Call
from smsgate.client.models import Page

P = ParamSpec("P")
R = TypeVar("R", bound=BaseModel)
T = TypeVar("T")


@final
class Sync:
    """Mode of ``Client``: methods return results."""


@final
class Async:
    """Mode of ``AsyncClient``: methods return awaitables (iterators: async iterators)."""


ModeT = TypeVar("ModeT", Sync, Async)


class ClientLike(Protocol):
    """What a client offers its namespaces (``Client`` and ``AsyncClient`` both do)."""

    def _call(self, call: Call[Any], /) -> Any: ...

    def _pages(self, first: Call[Any], /) -> Any: ...


class Namespace(Generic[ModeT]):
    def __init__(self, client: ClientLike) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"


def _signature(build: Callable[..., Any], returns: str | None) -> inspect.Signature:
    signature = inspect.signature(build)
    return signature.replace(return_annotation=returns or inspect.Signature.empty)


class _Method(Generic[P, T]):
    """Shared machinery of ``endpoint`` and ``pager``: binding and caching."""

    def __init__(self, build: Callable[P, Call[Any]]) -> None:
        self._build = build
        self._name = build.__name__
        returns = inspect.signature(build).return_annotation
        self._signature = _signature(build, self._returns(str(returns)))

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        summary = (self._doc() or "").strip().splitlines()[:1]
        return f"<{type(self).__name__} {self._name}{self._signature}{': ' if summary else ''}" + (
            f"{summary[0]}>" if summary else ">"
        )

    def _doc(self) -> str | None:
        return self._build.__doc__

    def _bind(self, obj: Namespace[Any]) -> Callable[..., Any]:
        raise NotImplementedError

    def _get(self, obj: Namespace[Any] | None) -> Any:
        if obj is None:
            return self
        method = self._bind(obj)
        functools.update_wrapper(method, self._build)
        del method.__wrapped__  # type: ignore[attr-defined]
        method.__doc__ = self._doc()
        method.__name__ = self._name
        method.__qualname__ = f"{type(obj).__name__}.{self._name}"
        method.__signature__ = self._signature  # type: ignore[attr-defined]
        if self._name != "__call__":
            obj.__dict__[self._name] = method  # bind once per namespace object
        return method

    def _returns(self, annotation: str) -> str | None:
        return annotation


class endpoint(_Method[P, R]):
    """One request and its result: ``T`` (sync) or an awaitable ``T`` (async)."""

    def __init__(self, build: Callable[P, Call[R]]) -> None:
        super().__init__(build)

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> Self: ...
    @overload
    def __get__(self, obj: Namespace[Sync], owner: type[Any] | None = None) -> Callable[P, R]: ...
    @overload
    def __get__(
        self, obj: Namespace[Async], owner: type[Any] | None = None
    ) -> Callable[P, Coroutine[Any, Any, R]]: ...
    def __get__(self, obj: Namespace[Any] | None, owner: type[Any] | None = None) -> Any:
        return self._get(obj)

    def _bind(self, obj: Namespace[Any]) -> Callable[..., Any]:
        build, client = self._build, obj._client

        def method(*args: Any, **kwargs: Any) -> Any:
            return client._call(build(*args, **kwargs))

        return method

    def _returns(self, annotation: str) -> str | None:
        if annotation.startswith("Call[") and annotation.endswith("]"):
            return annotation[len("Call[") : -1]
        return None


class pager(_Method[P, R]):
    """Every item of every page, following ``next_cursor`` (fetched as iterated)."""

    def __init__(self, build: Callable[P, Call[Page[R]]]) -> None:
        super().__init__(build)

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> Self: ...
    @overload
    def __get__(
        self, obj: Namespace[Sync], owner: type[Any] | None = None
    ) -> Callable[P, Iterator[R]]: ...
    @overload
    def __get__(
        self, obj: Namespace[Async], owner: type[Any] | None = None
    ) -> Callable[P, AsyncIterator[R]]: ...
    def __get__(self, obj: Namespace[Any] | None, owner: type[Any] | None = None) -> Any:
        return self._get(obj)

    def _bind(self, obj: Namespace[Any]) -> Callable[..., Any]:
        build, client = self._build, obj._client

        def method(*args: Any, **kwargs: Any) -> Any:
            return client._pages(build(*args, **kwargs))

        return method

    def _doc(self) -> str | None:
        return (
            "Every item of every page, fetching the next page (``next_cursor``) as you "
            f"iterate. Pages as in:\n\n{self._build.__doc__ or ''}"
        )

    def _returns(self, annotation: str) -> str | None:
        if annotation.startswith("Call[Page[") and annotation.endswith("]]"):
            return f"Iterator[{annotation[len('Call[Page[') : -2]}]"
        return None


class BatchAPI(Namespace[ModeT]):
    """``client.sms.batch``."""

    send = endpoint(calls.sms_batch_send)


class OtpAPI(Namespace[ModeT]):
    """``client.sms.otp(to, ...)`` sends a passcode; ``.status(id)`` and ``.cancel(id)``."""

    __call__ = endpoint(calls.sms_otp)
    status = endpoint(calls.otp_status)
    cancel = endpoint(calls.otp_cancel)

    @property
    def __signature__(self) -> inspect.Signature:
        """For ``inspect.signature(client.sms.otp)``: that of sending a passcode."""
        return self.__call__.__signature__  # type: ignore[attr-defined, no-any-return]


class SmsAPI(Namespace[ModeT]):
    """``client.sms``: send, look up, list and manage messages."""

    send = endpoint(calls.sms_send)
    status = endpoint(calls.sms_status)
    list = endpoint(calls.sms_list)
    list_all = pager(calls.sms_list)
    events = endpoint(calls.sms_events)
    events_all = pager(calls.sms_events)
    cancel = endpoint(calls.sms_cancel)
    resend = endpoint(calls.sms_resend)
    verify = endpoint(calls.sms_verify)

    def __init__(self, client: ClientLike) -> None:
        super().__init__(client)
        self.batch: BatchAPI[ModeT] = BatchAPI(client)
        self.otp: OtpAPI[ModeT] = OtpAPI(client)


class SandboxAPI(Namespace[ModeT]):
    """``client.sandbox``: what the simulator's phones received."""

    messages = endpoint(calls.sandbox_messages)
    messages_all = pager(calls.sandbox_messages)


class AccountAPI(Namespace[ModeT]):
    """``client.account``."""

    me = endpoint(calls.account_me)
