"""The Typer app: its commands, the report as the default one, and the one place errors end.

Errors raised by the core are typed (:mod:`activity_report.errors`) and turned
into one line on stderr, and an exit code, in exactly one place:
:func:`run_guarded`, which every run goes through.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import click
import typer
from click.shell_completion import CompletionItem
from typer.core import TyperGroup

from .. import __version__, resources
from ..errors import ActivityReportError, flag_name
from ..resources import RunContext
from .click_errors import click_message
from .config import config_path, default_map
from .messages import PROG, fail, note, one_line
from .pseudonyms import pseudonyms_app
from .report import report_command
from .runs import Run, install_signal_handlers, running
from .seats import seats_command
from .serve import serve_command
from .store import info_command, ingest_command, orgs_app, users_app
from .streams import guard_standard_streams
from .tokens import tokens_app


class DefaultReportGroup(TyperGroup):
    """Runs ``report`` when the first argument names no subcommand.

    So ``activity-report --category ide`` and ``activity-report report
    --category ide`` are the same command.
    """

    default_command = "report"

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> None:
        """Every run, the console script's and CliRunner's alike, maps errors here."""
        argv = list(sys.argv[1:] if args is None else args)
        extra["standalone_mode"] = False

        def invoke(run: Run) -> object:
            run.config = config_path(argv)
            if run.config is not None:  # its options are the defaults of every command
                extra["default_map"] = default_map(run.config, self)
            return super(DefaultReportGroup, self).main(argv, prog_name or PROG, obj=run, **extra)

        sys.exit(run_guarded(invoke))

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        top_level = {"-h", "--help", "--version", "--install-completion", "--show-completion"}
        completing_a_command = ctx.resilient_parsing and not args  # the first word: any command
        if not completing_a_command and (
            not args or (args[0] not in self.commands and args[0] not in top_level)
        ):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """The first word: a command, or (the report being the default) a report option."""
        items = super().shell_complete(ctx, incomplete)
        report = self.commands.get(self.default_command)
        if report is not None and incomplete.startswith("-"):
            sub = click.Context(report, info_name=self.default_command, parent=ctx)
            known = {item.value for item in items}
            items += [
                item for item in report.shell_complete(sub, incomplete) if item.value not in known
            ]
        return items

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The group's help, then the report's options: the report is the default command."""
        super().format_help(ctx, formatter)
        report = self.commands.get(self.default_command)
        if report is None:
            return
        sub = click.Context(report, info_name=self.default_command, parent=ctx)
        records = [
            record
            for param in report.get_params(sub)
            if not (isinstance(param, click.Option) and "--help" in param.opts)
            and (record := param.get_help_record(sub)) is not None
        ]
        with formatter.section("Report options (report is the default command)"):
            formatter.write_dl(records)


app = typer.Typer(
    name=PROG,
    cls=DefaultReportGroup,
    help="Usage reports from an activity event log, or from Coder's own database "
    "(--coder), in the shape of Coder's Activity API."
    "\n\nWithout a command, it runs the report: its options are below."
    "\n\nExample: activity-report --events events.parquet --interval daily -o daily.csv",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_show_locals=False,
    # click's plain help: it wraps long words (env var names, paths) instead
    # of cutting them with an ellipsis at 80 columns as rich's panels do.
    rich_markup_mode=None,
    no_args_is_help=False,
    add_completion=True,
)


def _version(value: bool) -> None:
    if value:
        print(f"{PROG} {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Usage reports from an activity event log, in the shape of Coder's Activity API.

    Without a command, it runs the report: its options are below.
    """


# --help and the error for a stray word list the commands in this order (groups after the rest).
app.command("report")(report_command)
app.command("ingest")(ingest_command)
app.command("info")(info_command)
app.command("seats")(seats_command)
app.add_typer(users_app)
app.add_typer(orgs_app)
app.command("serve")(serve_command)
app.add_typer(tokens_app)
app.add_typer(pseudonyms_app)
command = typer.main.get_command(app)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: run the app, return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    guard_standard_streams()
    if hasattr(signal, "SIGPIPE") and not _faces_the_network(args):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly
    install_signal_handlers()  # Ctrl-C and SIGTERM stop DuckDB's queries too
    try:
        command.main(args=args, prog_name=PROG)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


#: Commands whose peers are network clients: a client that closes its connection
#: early must get an error on its own socket, never end the process with SIGPIPE.
NETWORK_COMMANDS = frozenset({"serve"})


def _faces_the_network(args: Sequence[str]) -> bool:
    """The command serves clients (its first word; the group takes no option before it)."""
    return bool(args) and args[0] in NETWORK_COMMANDS


def run_guarded(invoke: Callable[[Run], object]) -> int:
    """Run the parsed command; turn every failure into one line and an exit code.

    This is the one place where errors meet the user: typed core
    errors keep their exit code, click's usage errors are 2, an interrupt is
    130, and anything unexpected is 1 without a traceback unless --debug.
    The command runs in a run of its own (:func:`.runs.running`), closed
    (its temporary files removed) before the exit code is known.
    """
    with running() as run:
        context = run.context
        try:
            outcome = invoke(run)
        except click.exceptions.Exit as exc:
            return int(exc.exit_code)
        except (click.exceptions.Abort, KeyboardInterrupt):
            return _interrupted(context)
        except click.ClickException as exc:
            if run.debug:
                raise
            return fail(click_message(exc), 2)
        except ActivityReportError as exc:
            if context.interrupted:  # a query stopped by Ctrl-C fails as it can
                return _interrupted(context)
            if run.debug:
                raise
            return fail(exc.render(flag_name), exc.exit_code)
        except Exception as exc:  # the last line of defence: no traceback without --debug
            if context.interrupted:
                return _interrupted(context)
            if run.debug:
                raise
            # DuckDB out of memory or disk: say what to change, and what was kept
            known = resources.explain(exc, context.what_was_committed())
            if known is not None:
                return fail(known.render(flag_name), known.exit_code)
            return fail(
                f"unexpected {type(exc).__name__}: {one_line(str(exc))} (rerun with "
                "--debug for a traceback)",
                1,
            )
    # Not standalone, Typer returns an Exit's code instead of raising it, and
    # turns a KeyboardInterrupt inside the command into Exit(130).
    if outcome == 130 or context.interrupted:  # a Ctrl-C DuckDB let finish
        return _interrupted(context)
    done = context.what_was_committed()
    if done and context.held:
        note(f"note: interrupted during the commit, which finished: {done}")
    return outcome if isinstance(outcome, int) else 0


def _interrupted(context: RunContext) -> int:
    """An interrupt's message and exit code, which must tell the truth.

    An interrupt after a commit changes nothing any more: the run succeeded
    (exit 0) and says so; before it, nothing was changed (130, or 143 for
    SIGTERM).
    """
    done = context.what_was_committed()
    if done:
        note(f"note: interrupted after the commit: {done}")
        return 0
    return fail(*(("terminated", 143) if context.terminated else ("interrupted", 130)))
