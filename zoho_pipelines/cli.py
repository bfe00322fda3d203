"""The `zoho-pipelines` command line.

A wrong setting (ConfigurationError), module selection (CatalogError), taken port (PortInUseError),
refused credentials or unreachable Zoho prints one line that names the variable or module and the
fix; `--verbose` adds the traceback.
"""

from __future__ import annotations

from typing import Any

import click
import typer
from typer.core import TyperGroup

from zoho_pipelines.catalog import CatalogError
from zoho_pipelines.demo_port import DEFAULT_PORT, PortInUseError
from zoho_pipelines.documents.extra import DocumentsExtraMissing
from zoho_pipelines.settings import ConfigurationError
from zoho_pipelines.zoho.errors import ZohoAuthError, ZohoConnectionError

ACTIONABLE_ERRORS = (ConfigurationError, CatalogError, PortInUseError, DocumentsExtraMissing)
# Zoho refusing the credentials or not answering at all: one line saying what to check.
_ZOHO_HINTS: dict[type[Exception], str] = {
    ZohoAuthError: "check ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN, and ZOHO_DC for the org",
    ZohoConnectionError: (
        "check ZOHO_DC (or ZOHO_ACCOUNTS_URL and ZOHO_API_URL) and that this machine reaches Zoho"
    ),
}
UNREACHABLE_ZOHO_ERRORS = tuple(_ZOHO_HINTS)
ACTIONABLE_EXIT_CODE = 2


class _OneLineErrors(TyperGroup):
    """Runs a command; an error a person can act on becomes one line on stderr, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ACTIONABLE_ERRORS as exc:
            if ctx.params.get("verbose"):
                raise
            typer.echo(f"zoho-pipelines: {exc}", err=True)
            raise typer.Exit(ACTIONABLE_EXIT_CODE) from None
        except UNREACHABLE_ZOHO_ERRORS as exc:
            if ctx.params.get("verbose"):
                raise
            # The message is already redacted (ZohoAPIError.__str__); the hint names what to check.
            typer.echo(f"zoho-pipelines: {exc} ({_ZOHO_HINTS[type(exc)]})", err=True)
            raise typer.Exit(ACTIONABLE_EXIT_CODE) from None


app = typer.Typer(
    name="zoho-pipelines",
    cls=_OneLineErrors,
    help="Zoho One (CRM, Books, Projects) to AWS data pipelines on Dagster.",
    no_args_is_help=True,
    add_completion=False,
    # Click's plain help: Typer 0.29's Rich panels give every option a type column, so flags
    # (--verbose, --no-sandbox, --help) read as if they took a <bool> value.
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,  # locals may hold credentials
)


@app.callback()
def main(
    verbose: bool = typer.Option(False, "--verbose", help="Show the traceback behind an error message."),
) -> None:
    """Zoho One (CRM, Books, Projects) to AWS data pipelines on Dagster."""


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def sandbox(ctx: typer.Context) -> None:
    """Serve the local Zoho API stand-in (accounts, CRM v2-v8, Books v3, Projects); --help lists its flags.

    The same command as `python -m zoho_pipelines.sandbox`, with the same flags.
    """
    from zoho_pipelines.sandbox.__main__ import main as serve_sandbox

    serve_sandbox(ctx.args, prog="zoho-pipelines sandbox")


@app.command()
def demo(
    records: int = typer.Option(20_000, help="Records per CRM module in the sandbox."),
    port: int = typer.Option(
        DEFAULT_PORT, help=f"Sandbox port (0 picks a free one; {DEFAULT_PORT}, when taken, does too)."
    ),
    latency_ms: float = typer.Option(0.0, help="Added latency per sandbox API call, in milliseconds."),
) -> None:
    """Sync the last 7 days of every selected module from the sandbox into the local lake and DuckDB."""
    from zoho_pipelines.demo import run_demo

    raise typer.Exit(run_demo(records=records, port=port, latency_ms=latency_ms))


@app.command()
def documents(
    records: int = typer.Option(500, help="Records per CRM module in the sandbox (24 Deals carry PDFs)."),
    port: int = typer.Option(0, help="Sandbox port (0 picks a free one)."),
    sandbox: bool = typer.Option(
        True, help="Start a sandbox; --no-sandbox reads the org the ZOHO_* settings name (a running sandbox)."
    ),
) -> None:
    """Extract the sandbox Deals' contract and invoice PDFs; write their values back onto the Deals."""
    from zoho_pipelines.documents.demo import run_documents_demo
    from zoho_pipelines.documents.extra import require_all

    require_all()

    raise typer.Exit(run_documents_demo(records=records, port=port, start_sandbox=sandbox))


@app.command()
def check() -> None:
    """Check the settings and that every ZOHO_MODULES module exists in the Zoho org (one API call).

    Run it before launching runs (`dg launch`, the Dagster UI): a wrong setting or module then
    fails here as one line instead of in every run.
    """
    from zoho_pipelines.preflight import checked_modules
    from zoho_pipelines.settings import load_settings

    specs = checked_modules(load_settings())
    typer.echo(f"configuration ok; modules: {', '.join(spec.selector for spec in specs)}")


@app.command()
def ingress(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8766, help="Port to listen on (0 picks a free one)."),
    request_timeout: float = typer.Option(
        10.0, min=0.1, help="Seconds a connection may stay silent before it is dropped."
    ),
) -> None:
    """Serve the webhook ingress (the Lambda handler) over HTTP.

    Configured like every other command, from the environment and .env (ZOHO_WEBHOOK_SECRETS,
    ZOHO_CHANNEL_TOKENS, ...). Events go to EventBridge when EVENTS_TARGET=eventbridge (or, with
    EVENTS_TARGET unset, when AWS_ENDPOINT_URL is set), otherwise to local durable queues under
    ZOHO_PIPELINES_HOME/queue.
    """
    from zoho_pipelines.events.local_server import serve_ingress
    from zoho_pipelines.settings import load_settings

    serve_ingress(host, port, settings=load_settings(), request_timeout_s=request_timeout)


if __name__ == "__main__":
    app()
