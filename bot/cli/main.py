"""`surveybot` command line: run, preview, validate, codes (and more)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import logs
from bot.cli.errors import OUTSIDE, CliError, explain
from bot.settings import Settings, load_settings
from conversations.schema import shipped_questionnaire_path

log = logging.getLogger(__name__)

# Modules that add their own subcommands: each has add_commands(subparsers),
# setting `handler(settings, args) -> int` as a default on its parsers.
EXTENSIONS: list[str] = [
    "bot.cli.sync", "bot.cli.export", "bot.cli.status", "bot.cli.xlsform", "bot.cli.backup",
    "bot.cli.doctor",
]


def _parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The commands; the extensions' only when the command may be one of theirs
    (`run` stays a long-lived process without the export and XLSForm code)."""
    parser = argparse.ArgumentParser(prog="surveybot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the bot (long polling, or a webhook)")
    run.add_argument("--webhook-url", help="public HTTPS URL Telegram posts updates to")
    run.add_argument("--listen", default="127.0.0.1:8443", help="HOST:PORT for the webhook server")

    preview = sub.add_parser("preview", help="walk the questionnaire in the terminal")
    preview.add_argument("file", nargs="?", type=Path, help="questionnaire YAML (default: shipped)")
    preview.add_argument("--lang", default="it", choices=["it", "en"])
    preview.add_argument("--istat", default="048017", help="municipality shown in the texts")

    validate = sub.add_parser("validate", help="lint a questionnaire file")
    validate.add_argument("file", type=Path)
    validate.add_argument("--against", type=Path, metavar="OLD",
                          help="the version in use: print what the update does to its answers")
    validate.add_argument("--allow-reask", action="store_true",
                          help="with --against: answers to be asked again are not an error")

    codes = sub.add_parser("codes", help="issue, reissue or revoke access codes")
    codes_sub = codes.add_subparsers(dest="action", required=True)
    for action in ("issue", "reissue", "revoke"):
        p = codes_sub.add_parser(action)
        p.add_argument("--istat", nargs="+", default=[], metavar="CODE")
        p.add_argument("--from", dest="from_file", type=Path, help="CSV with an 'istat' column")
        if action != "revoke":
            p.add_argument("--out", type=Path, help="write the CSV here instead of stdout")
    if not argv or argv[0] not in sub.choices:
        for module in EXTENSIONS:
            importlib.import_module(module).add_commands(sub)
    return parser


# Commands that refuse a questionnaire `validate` rejects, before touching
# Telegram or the database (preview is checked on its own file argument).
VALIDATED_FIRST = ("run", "export")


def questionnaire_is_sound(path: Path) -> bool:
    """Lint the file; print the validator's lines to stderr when it is not sound."""
    from conversations.validator import lint_file

    problems = lint_file(path)
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if problems:
        print(f"{path}: the questionnaire is not valid; fix it and check with "
              f"`surveybot validate {path}`", file=sys.stderr)
    return not problems


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser(argv).parse_args(argv)
    settings: Settings | None = None
    try:
        # Every command checks every setting first, even those it does not use:
        # a typo shows up at the first `status`, not at the first deploy.
        settings = load_settings()
        logs.configure(settings)
        return _dispatch(settings, args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # every failure ends as one line and a status
        known = explain(error, settings.database if settings else None)
        if known is None:
            log.debug("unexpected failure", exc_info=error)
            known = CliError(f"unexpected {type(error).__name__}: {error} "
                             "(SURVEYBOT_LOG_LEVEL=DEBUG shows where)", OUTSIDE)
        print(f"error: {known}", file=sys.stderr)
        return known.status


def _dispatch(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "validate":
        from conversations.validator import lint_file

        problems = lint_file(args.file)
        for problem in problems:
            print(problem)
        if not problems:
            print(f"{args.file}: ok")
        if problems or args.against is None:
            return 1 if problems else 0
        from bot.cli.editions import compare_versions

        return compare_versions(args.against, args.file, allow_reask=args.allow_reask)
    if args.command == "preview":
        from bot.cli.preview import run_preview
        from conversations.schema import load_questionnaire

        path = args.file or shipped_questionnaire_path()
        if not questionnaire_is_sound(path):
            return 2
        return run_preview(load_questionnaire(path), lang=args.lang, istat=args.istat)
    if args.command in VALIDATED_FIRST and not questionnaire_is_sound(
        settings.questionnaire or shipped_questionnaire_path()
    ):
        return 2
    handler = getattr(args, "handler", None)
    if handler is not None:
        return int(handler(settings, args))
    if args.command == "codes":
        from bot.cli.codes import run_codes

        return asyncio.run(run_codes(settings, args))
    if args.command == "run":
        from bot.cli.run import serve

        return serve(settings, webhook_url=args.webhook_url, listen=args.listen)
    return 2


if __name__ == "__main__":
    sys.exit(main())
