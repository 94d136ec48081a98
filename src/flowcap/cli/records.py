"""``flowcap key rotate``, ``retention``, ``backup`` and ``restore``, and the whole-service form
of ``erase``: keeping records (:mod:`flowcap.records`). Each parses, calls the library and
prints; the library is imported inside each command, so ``flowcap --help`` stays light."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from flowcap.cli.app import AsJson, _errors_to_exit, app, err, out

key_app = typer.Typer(help="The pseudonymisation key: rotate it.", no_args_is_help=True)
app.add_typer(key_app, name="key")

AllowInsecureKey = Annotated[
    bool,
    typer.Option(
        "--allow-insecure-key",
        help="Use a key file that other users can read (refused otherwise: chmod 600 it).",
    ),
]
StoreFolder = Annotated[
    Path | None,
    typer.Option(
        "--folder",
        help="The service folder whose own .flowcap/ store to use (default: "
        "FLOWCAP_DATABASE_URL, else the default store).",
        show_default=False,
    ),
]


@key_app.command("rotate")
def rotate(
    folder: StoreFolder = None,
    allow_insecure_key: AllowInsecureKey = False,
    as_json: AsJson = False,
) -> None:
    """Re-pseudonymise every stored case under a new key, in one transaction.

    The new key is added to the key file (the old file is kept beside it, as
    <key>.<fingerprint>.old); back the new key file up. Run it again after an interruption:
    it finishes or restarts the rotation. Run it on each store that shares the key.
    """
    from flowcap import records

    with _errors_to_exit():
        done = records.rotate_key(folder, allow_insecure_key=allow_insecure_key or None)
    if as_json:
        document = {
            "rows": done.rows,
            "old_fingerprint": done.old_fingerprint,
            "new_fingerprint": done.new_fingerprint,
            "key_file": str(done.key_file),
            "old_key_file": None if done.backup is None else str(done.backup),
            "finished_interrupted": done.finished,
            "caught_up": done.caught_up,
        }
        sys.stdout.write(json.dumps(document) + "\n")
        return
    if done.finished:
        out.print("Finished an interrupted rotation: the key file now holds the new key.")
    elif done.caught_up:
        out.print(
            f"Brought this store up to the current key: {done.rows:,} case keys re-keyed "
            f"(fingerprint {done.old_fingerprint} → {done.new_fingerprint})."
        )
    else:
        out.print(
            f"Rotated the key: {done.rows:,} case keys re-keyed in one transaction "
            f"(fingerprint {done.old_fingerprint} → {done.new_fingerprint})."
        )
    out.print(f"Key file: {done.key_file}. Back it up now.", markup=False)
    if done.backup is not None:
        out.print(
            f"The old key is kept in {done.backup}: delete it once no old "
            "backup of the store needs it.",
            markup=False,
        )


@app.command()
def retention(
    service: Annotated[
        str, typer.Argument(help="The service: its folder, or its name in the store.")
    ],
    older_than: Annotated[
        str, typer.Option("--older-than", help="The retention period: 7y, 18m, 26w, 90d.")
    ],
    apply: Annotated[
        bool, typer.Option("--apply", help="Delete (without it, only say what would go).")
    ] = False,
    allow_changed_measures: Annotated[
        bool,
        typer.Option(
            "--allow-changed-measures",
            help="Apply even when the measures of days kept would change.",
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Delete case records older than a retention period (UK GDPR storage limitation).

    A dry run unless --apply. A case goes as a whole when all its records are older than the
    cut. The measures before the cut are lost; a cut that would change the measures after it
    is refused.
    """
    from flowcap import records

    with _errors_to_exit({"older_than": "--older-than"}):
        plan = records.retention(
            service, older_than, apply=apply, allow_changed_measures=allow_changed_measures
        )
    if as_json:
        sys.stdout.write(json.dumps(plan.as_json()) + "\n")
        return
    rows = ", ".join(f"{n:,} {table}" for table, n in plan.rows.items())
    verb = "Deleted" if plan.applied else "Would delete"
    out.print(
        f"{escape(plan.service)}: cases with every record before {plan.cut:%Y-%m-%d}: "
        f"{plan.cases:,}. {verb}: {rows}."
    )
    out.print(
        f"Measured days before the cut, no longer measured afterwards: {plan.days_before_cut:,}."
    )
    if plan.changed_days:
        out.print(
            f"[yellow]Days on or after the cut whose measures would change: "
            f"{plan.changed_days:,}[/] (e.g. {escape(plan.changed_examples[0])}): "
            "choose an older cut."
        )
    else:
        out.print("The measures of every day from the cut on stay as they are.")
    if not plan.applied and plan.cases:
        out.print("Nothing was deleted: run again with --apply to delete.")
    if plan.applied:
        err.print(
            "note: an import of an export that still holds these cases brings them back: "
            "delete them at the source too."
        )


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(help="The backup file to write (.zip).")],
    folder: StoreFolder = None,
) -> None:
    """Back up the whole store to one file (the key is not in it: keep the key apart)."""
    from flowcap import records

    with _errors_to_exit():
        manifest = records.backup(file, folder)
    tables = manifest["tables"]
    out.print(
        f"Backed up {len(tables)} tables ({sum(t['rows'] for t in tables.values()):,} rows, "
        f"schema {manifest['schema_revision']}) to {escape(str(file))}.",
    )
    if manifest["key_fingerprint"]:
        out.print(
            f"Restoring it needs the key with fingerprint {manifest['key_fingerprint']}, "
            "which is not in the backup."
        )


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="The backup file (from flowcap backup).")],
    folder: StoreFolder = None,
    allow_insecure_key: AllowInsecureKey = False,
) -> None:
    """Restore a backup into an empty store, checking your key matches its fingerprint."""
    from flowcap import records

    with _errors_to_exit():
        manifest = records.restore(file, folder, allow_insecure_key=allow_insecure_key or None)
    tables = manifest["tables"]
    out.print(
        f"Restored {len(tables)} tables ({sum(t['rows'] for t in tables.values()):,} rows) "
        f"from {escape(str(file))}."
    )


def erase_service(service: str, yes: bool) -> None:
    """``flowcap erase --service NAME --yes`` (no case id): remove the whole service. For
    :func:`flowcap.cli.data.erase` to call when it is given no case id."""
    from flowcap import records

    with _errors_to_exit():
        removed = records.erase_service(service, confirm=yes)
    total = sum(removed.values())
    detail = ", ".join(f"{rows:,} {name}" for name, rows in removed.items() if rows)
    out.print(f"Removed the service {escape(service)}: {total:,} rows ({detail or 'none'}).")
    out.print("Its erased cases stay erased. Remove its folder or export as well.")
