"""The `zoho-pipelines` command line."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="zoho-pipelines",
    help="Zoho One (CRM, Books, Projects) to AWS data pipelines on Dagster.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def sandbox(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8765, help="Port to listen on (0 picks a free one)."),
    seed: int = typer.Option(7, help="Seed of the deterministic data set."),
    records: int = typer.Option(2_000, help="Records per CRM module."),
    latency_ms: float = typer.Option(0.0, help="Added latency per API call, in milliseconds."),
    concurrency: int = typer.Option(10, help="Concurrent calls before 429 TOO_MANY_REQUESTS."),
    fault_rate: float = typer.Option(0.0, help="Share of API calls answered with an injected fault."),
    mutate_every: float = typer.Option(
        0.0, help="Seconds between background create/edit/delete mutations (0: off)."
    ),
) -> None:
    """Serve the local Zoho API stand-in (accounts, CRM v2-v8, Books v3, Projects)."""
    from zoho_pipelines.sandbox.server import SandboxConfig, serve

    serve(
        SandboxConfig(
            host=host,
            port=port,
            seed=seed,
            records_per_module=records,
            latency_ms=latency_ms,
            concurrency_limit=concurrency,
            fault_rate=fault_rate,
            mutate_every_s=mutate_every,
        )
    )


@app.command()
def demo(
    records: int = typer.Option(20_000, help="Records per CRM module in the sandbox."),
    port: int = typer.Option(8765, help="Sandbox port (0 picks a free one)."),
    latency_ms: float = typer.Option(0.0, help="Added latency per sandbox API call, in milliseconds."),
) -> None:
    """Sync the last 7 days of every default module from the sandbox into the local lake and DuckDB."""
    from zoho_pipelines.demo import run_demo

    raise typer.Exit(run_demo(records=records, port=port, latency_ms=latency_ms))


@app.command()
def documents(
    records: int = typer.Option(500, help="Records per CRM module in the sandbox (24 Deals carry PDFs)."),
    port: int = typer.Option(0, help="Sandbox port (0 picks a free one)."),
) -> None:
    """Extract the sandbox Deals' contract and invoice PDFs; write their values back onto the Deals."""
    from zoho_pipelines.documents.demo import run_documents_demo

    raise typer.Exit(run_documents_demo(records=records, port=port))


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
