"""The ``smsgate`` command. Commands call services or the SDK, never raw SQL."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table

from smsgate.config import Settings

app = typer.Typer(help="smsgate: a self-hosted SMS gateway.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
otp_app = typer.Typer(help="Send and check one-time passcodes.", no_args_is_help=True)
app.add_typer(otp_app, name="otp")
vendors_app = typer.Typer(help="The upstreams this gateway sends through.", no_args_is_help=True)
app.add_typer(vendors_app, name="vendors")
console = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the SQLite file lives.", show_default=False)
]
DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="SQLAlchemy URL (overrides --data-dir).")
]


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _migrate(settings: Settings) -> None:
    # Alembic lists every plugin it sets up (on import) at INFO; the upgrades it runs
    # ("Running upgrade ...") stay visible.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    from smsgate.db.engine import Database
    from smsgate.db.migrate import upgrade

    async def run() -> None:
        db = Database(settings.resolved_database_url(), pool_size=1)
        try:
            await upgrade(db.engine)
        finally:
            await db.dispose()

    asyncio.run(run())


def _with_session(settings: Settings, fn: Any) -> Any:
    from smsgate.db.engine import Database

    async def run() -> Any:
        db = Database(settings.resolved_database_url(), pool_size=1)
        try:
            async with db.session() as session:
                return await fn(session)
        finally:
            await db.dispose()

    return asyncio.run(run())


def _announce_key(settings: Settings, secret: str, *, write: bool = True) -> None:
    from smsgate.client.credentials import write_credentials

    url = settings.resolved_public_url()
    console.print(f"[bold green]API key (shown once):[/] {secret}", soft_wrap=True)
    if write:
        path = write_credentials(url, secret)
        console.print(f"Saved server URL and key to {path} (mode 0600).")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Dispatcher loops in this process.")
    ] = None,
    dispatch: Annotated[
        bool, typer.Option("--dispatch/--no-dispatch", help="Run the dispatcher here.")
    ] = True,
    write_credentials: Annotated[
        bool, typer.Option(help="Write the bootstrap key to the credentials file.")
    ] = True,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "info",
) -> None:
    """Run the gateway: HTTP API and dispatcher in one process. Migrates on start."""
    import uvicorn

    from smsgate.accounts.service import bootstrap
    from smsgate.app import create_app

    settings = _settings(
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        dispatch_workers=workers,
        dispatch_enabled=dispatch,
    )
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    _migrate(settings)
    created = _with_session(settings, bootstrap)
    if created is not None:
        console.print("[bold]First start: made the default project and an admin key.[/]")
        _announce_key(settings, created.secret, write=write_credentials)
    console.print(f"smsgate listening on {settings.resolved_public_url()}")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level.lower(),
        access_log=False,
    )


@app.command()
def dispatch(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    workers: Annotated[int | None, typer.Option(help="Dispatcher loops.")] = None,
) -> None:
    """Run only the dispatcher (no HTTP API), e.g. as extra workers beside `serve`."""
    from smsgate.gateway import Gateway

    settings = _settings(data_dir=data_dir, database_url=database_url, dispatch_workers=workers)
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s %(message)s")
    _migrate(settings)

    async def run() -> None:
        gw = Gateway.build(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        gw.start_background()
        console.print("smsgate dispatcher running")
        await stop.wait()
        await gw.aclose()

    asyncio.run(run())


@app.command()
def migrate(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Bring the database schema up to date."""
    _migrate(_settings(data_dir=data_dir, database_url=database_url))
    console.print("Database is up to date.")


@app.command()
def init(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    url: Annotated[str | None, typer.Option(help="Server URL to save with the key.")] = None,
    name: Annotated[str, typer.Option(help="Name of the new key.")] = "admin (init)",
) -> None:
    """Make an admin key (and the default project if there is none) and save it locally."""
    from smsgate.accounts.service import admin_key_for_first_project

    settings = _settings(data_dir=data_dir, database_url=database_url, public_url=url)
    _migrate(settings)
    created = _with_session(settings, lambda s: admin_key_for_first_project(s, name))
    _announce_key(settings, created.secret)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A label for the key.")] = "key",
    permission: Annotated[
        list[str] | None,
        typer.Option("--permission", "-p", help="Repeat for each; default sms:send, sms:read."),
    ] = None,
    project: Annotated[str | None, typer.Option(help="Project id (default: the first).")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key; the key is printed once."""
    from smsgate.accounts import repository
    from smsgate.accounts.keys import DEFAULT_PERMISSIONS
    from smsgate.accounts.service import create_key

    settings = _settings(data_dir=data_dir, database_url=database_url)
    _migrate(settings)

    async def make(session: Any) -> Any:
        project_id = project
        if project_id is None:
            first = await repository.first_project(session)
            if first is None:
                raise typer.BadParameter("no project yet: run `smsgate init` first")
            project_id = first.id
        return await create_key(session, project_id, name, permission or DEFAULT_PERMISSIONS)

    try:
        created = _with_session(settings, make)
    except ValueError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    console.print(f"Created {created.key.id} with {', '.join(created.key.permissions)}")
    console.print(f"[bold green]API key (shown once):[/] {created.secret}", soft_wrap=True)


@keys_app.command("list")
def keys_list(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """List API keys (never their secrets)."""
    from smsgate.accounts import repository

    settings = _settings(data_dir=data_dir, database_url=database_url)
    rows = _with_session(settings, repository.list_keys)
    table = Table("id", "project", "name", "key", "permissions", "revoked")
    for k in rows:
        table.add_row(
            k.id,
            k.project_id,
            k.name,
            k.key_hint,
            " ".join(k.permissions),
            k.revoked_at.isoformat() if k.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Revoke a key by id (``key_…``)."""
    from smsgate.accounts.service import revoke_key
    from smsgate.errors import NotFound

    settings = _settings(data_dir=data_dir, database_url=database_url)
    try:
        _with_session(settings, lambda s: revoke_key(s, key_id))
    except NotFound as exc:
        err.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from exc
    console.print(f"Revoked {key_id}.")


def _client() -> Any:
    from smsgate.client import Client

    return Client()


def _sdk_error(exc: Exception) -> None:
    err.print(f"[red]{exc}[/]")
    raise typer.Exit(1)


def _print_record(record: Any) -> None:
    console.print_json(record.model_dump_json(by_alias=True))


@app.command()
def send(
    to: Annotated[str, typer.Argument(help="Recipient in E.164, e.g. +15005550006.")],
    body: Annotated[str, typer.Argument(help="The text.")],
    sender: Annotated[str | None, typer.Option("--from", help="Sender id or number.")] = None,
) -> None:
    """Send one message through the API (server and key from the credentials file or env)."""
    from smsgate.client import SmsgateError

    try:
        with _client() as client:
            _print_record(client.sms.send(to=to, body=body, from_=sender))
    except SmsgateError as exc:
        _sdk_error(exc)


@app.command()
def status(sms_id: str) -> None:
    """Show one message."""
    from smsgate.client import SmsgateError

    try:
        with _client() as client:
            _print_record(client.sms.status(sms_id))
    except SmsgateError as exc:
        _sdk_error(exc)


@app.command("list")
def list_(
    state: Annotated[str | None, typer.Option(help="Only this state.")] = None,
    to: Annotated[str | None, typer.Option(help="Only this recipient.")] = None,
    limit: Annotated[int, typer.Option(help="How many.")] = 20,
) -> None:
    """List recent messages, newest first."""
    from smsgate.client import SmsgateError

    try:
        with _client() as client:
            page = client.sms.list(state=state, to=to, limit=limit)
    except SmsgateError as exc:
        _sdk_error(exc)
        return
    table = Table("sms_id", "to", "state", "segments", "price", "created")
    for r in page.items:
        table.add_row(r.sms_id, r.to, r.state, str(r.segments), str(r.price_usd), str(r.created_at))
    console.print(table)


def _vendors(data_dir: Path | None, config_file: Path | None) -> tuple[Any, str]:
    from smsgate.vendors import config as vendor_config

    settings = _settings(data_dir=data_dir, config_file=config_file)
    try:
        return vendor_config.load(settings)
    except vendor_config.ConfigError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc


ConfigFile = Annotated[Path | None, typer.Option("--config", help="smsgate.toml to read.")]


@vendors_app.command("list")
def vendors_list(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """List configured vendors (never their secrets)."""
    configured, default = _vendors(data_dir, config)
    table = Table("name", "type", "default")
    table.add_row("simulator", "simulator", "yes" if default == "simulator" else "")
    for vendor in configured:
        table.add_row(vendor.name, vendor.kind, "yes" if vendor.name == default else "")
    console.print(table)


@vendors_app.command("check")
def vendors_check(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Reach every configured vendor without sending a message. Exit 1 if any fails."""
    from smsgate.vendors.base import VendorError

    configured, _ = _vendors(data_dir, config)

    async def check_all() -> bool:
        ok = True
        for vendor in configured:
            try:
                console.print(f"[green]ok[/]   {vendor.name}: {await vendor.check()}")
            except VendorError as exc:
                ok = False
                console.print(f"[red]fail[/] {vendor.name}: {exc.code}: {exc.message}")
            finally:
                await vendor.aclose()
        return ok

    if not asyncio.run(check_all()):
        raise typer.Exit(1)


def _suffix_table(values: list[str] | None, option: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for value in values or []:
        suffix, sep, what = value.partition("=")
        if not sep or not what:
            raise typer.BadParameter(f"expected SUFFIX=VALUE, got {value!r}", param_hint=option)
        table[suffix] = what
    return table


IdFormat = Literal["hex", "dec"]


@app.command()
def smsc(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 2775,
    system_id: Annotated[
        str | None, typer.Option(help="Accept only this login (with --password).")
    ] = None,
    password: Annotated[str | None, typer.Option(help="The password of --system-id.")] = None,
    receipt_delay: Annotated[float, typer.Option(help="Seconds from submit to receipt.")] = 0.5,
    id_format: Annotated[IdFormat, typer.Option(help="Message ids in submit_sm_resp.")] = "hex",
    receipt_id_format: Annotated[
        IdFormat | None, typer.Option(help="Ids in receipts (default: as --id-format).")
    ] = None,
    throttle_every: Annotated[
        int, typer.Option(help="Answer every Nth submit_sm ESME_RTHROTTLED.")
    ] = 0,
    queue_full_every: Annotated[
        int, typer.Option(help="Answer every Nth submit_sm ESME_RMSGQFUL.")
    ] = 0,
    drop_after: Annotated[
        int, typer.Option(help="Cut the connection when the Nth submit_sm arrives (once).")
    ] = 0,
    response_delay: Annotated[
        float, typer.Option(help="Seconds to wait before each submit_sm_resp.")
    ] = 0.0,
    early_receipts: Annotated[
        bool, typer.Option("--early-receipts", help="Send each receipt before its submit_sm_resp.")
    ] = False,
    auto_reply: Annotated[
        str | None, typer.Option(help="Answer every delivered message with an MO of this text.")
    ] = None,
    reject: Annotated[
        list[str] | None,
        typer.Option(
            metavar="SUFFIX=STATUS",
            help="Answer submits to numbers ending in SUFFIX with this command_status "
            "(e.g. 0001=0x0b). Repeatable.",
        ),
    ] = None,
    receipt_state: Annotated[
        list[str] | None,
        typer.Option(
            metavar="SUFFIX=STAT",
            help="Receipts for numbers ending in SUFFIX report STAT (UNDELIV, EXPIRED, "
            "REJECTD, ...). Repeatable.",
        ),
    ] = None,
    deliver_with: Annotated[
        Literal["deliver_sm", "data_sm"],
        typer.Option(help="Send receipts and MOs as deliver_sm, or as data_sm."),
    ] = "deliver_sm",
) -> None:
    """Run a local SMPP 3.4 SMSC to develop and test against, with fault injection."""
    from rich.logging import RichHandler

    from smsgate.vendors.smpp.smsc import Smsc, SmscFaults

    credentials = None
    if system_id is not None and password is not None:
        credentials = {system_id: password}
    elif system_id is not None or password is not None:
        err.print("--system-id and --password go together; accepting any login.")
    try:
        rejects = {k: int(v, 0) for k, v in _suffix_table(reject, "--reject").items()}
    except ValueError as exc:
        raise typer.BadParameter(
            "STATUS is a number, e.g. 11 or 0x0b", param_hint="--reject"
        ) from exc
    faults = SmscFaults(
        throttle_every=throttle_every,
        queue_full_every=queue_full_every,
        drop_after=drop_after,
        response_delay=response_delay,
        early_receipts=early_receipts,
        reject_destinations=rejects,
    )
    try:
        server = Smsc(
            host,
            port,
            credentials=credentials,
            receipt_delay=receipt_delay,
            receipt_states=_suffix_table(receipt_state, "--receipt-state"),
            id_format=id_format,
            receipt_id_format=receipt_id_format,
            faults=faults,
            auto_reply=auto_reply,
            max_submits=10_000,
            deliver_with=deliver_with,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--receipt-state") from exc
    handler = RichHandler(console=console, show_path=False, show_level=False)
    logging.basicConfig(level="WARNING", format="%(message)s", datefmt="[%X]", handlers=[handler])
    logging.getLogger("smsgate.smsc").setLevel(logging.INFO)

    async def run() -> None:
        try:
            await server.start()
        except OSError as exc:
            err.print(f"[red]cannot listen on {host}:{port}: {exc}[/]")
            raise typer.Exit(1) from exc
        console.print(f"SMSC listening on {host}:{server.port}", highlight=False)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await server.stop()
        console.print("SMSC stopped", highlight=False)

    asyncio.run(run())


@otp_app.command("send")
def otp_send(
    to: Annotated[str, typer.Argument(help="Recipient in E.164.")],
    service_name: Annotated[str | None, typer.Option(help="Shown in the text.")] = None,
    ttl: Annotated[int | None, typer.Option(help="Seconds the code is valid.")] = None,
    length: Annotated[int | None, typer.Option(help="Digits in the code (4-10).")] = None,
) -> None:
    """Send a passcode (the code is never shown: read it on the phone, or the sandbox)."""
    from smsgate.client import SmsgateError

    try:
        with _client() as client:
            _print_record(
                client.sms.otp(to, service_name=service_name, ttl_seconds=ttl, code_length=length)
            )
    except SmsgateError as exc:
        _sdk_error(exc)


@otp_app.command("verify")
def otp_verify(
    to: Annotated[str, typer.Argument(help="The number the code went to.")],
    code: Annotated[str, typer.Argument(help="The code the user typed.")],
    request_id: Annotated[str | None, typer.Option(help="A specific OTP request.")] = None,
) -> None:
    """Check a passcode. Exit status 0 when valid, 3 when not."""
    from smsgate.client import SmsgateError

    try:
        with _client() as client:
            result = client.sms.verify(to, code, request_id=request_id)
    except SmsgateError as exc:
        _sdk_error(exc)
        return
    _print_record(result)
    if not result.valid:
        raise typer.Exit(3)


if __name__ == "__main__":  # pragma: no cover
    app()
