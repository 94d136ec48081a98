"""``flowcap`` commands. Thin: each parses its arguments, opens the service, calls one library
function and prints.

The commands live by subject in :mod:`flowcap.cli.data`, :mod:`flowcap.cli.analysis`,
:mod:`flowcap.cli.simulation` and :mod:`flowcap.cli.pathway`; importing them registers them
on the one Typer ``app``.
"""

# isort: off
# Importing the modules registers their commands, in this order in `flowcap --help`.
from flowcap.cli import data  # noqa: F401
from flowcap.cli import analysis  # noqa: F401
from flowcap.cli import simulation  # noqa: F401
from flowcap.cli import sweep  # noqa: F401
from flowcap.cli import pathway  # noqa: F401
from flowcap.cli import users  # noqa: F401
from flowcap.cli import web  # noqa: F401
from flowcap.cli import report  # noqa: F401
from flowcap.cli import monitor  # noqa: F401
from flowcap.cli import export  # noqa: F401
from flowcap.cli import records  # noqa: F401

# isort: on
from flowcap.cli.app import app

__all__ = ["app"]

if __name__ == "__main__":  # pragma: no cover
    app()
