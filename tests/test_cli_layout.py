"""How the ``pressroom`` command is put together: every command on the one app, in the documented order,
command modules that depend only on ``pressroom.cli.base``, and a ``--help`` that loads nothing heavy."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT
from tests.test_layers import graph, modules

# The order ``pressroom --help`` lists them in (commands first, then the command groups).
COMMANDS = ["new", "import", "validate", "list", "preview", "publish", "status", "schedule", "approve", "waive", "history",
            "serve", "report", "inspect", "doctor", "resolve", "correct", "retract"]
GROUPS = {"site": ["build", "check"], "coverage": ["add", "video", "live"], "db": ["upgrade", "current"],
          "reviewer": ["enroll", "revoke", "list"]}


def test_commands_and_groups_in_help_order():
    import typer

    from pressroom.cli import app

    group = typer.main.get_group(app)
    assert list(group.list_commands(None)) == COMMANDS + list(GROUPS)
    for name, subcommands in GROUPS.items():
        assert list(group.commands[name].list_commands(None)) == subcommands


def test_command_modules_import_only_base_from_the_cli_package():
    cli = {name for name in modules() if name.startswith("pressroom.cli.")}
    for name in sorted(cli - {"pressroom.cli.base"}):
        assert graph()[name] & (cli | {"pressroom.cli"}) == {"pressroom.cli.base"}, name
    assert not graph()["pressroom.cli.base"] & (cli | {"pressroom.cli"})


def test_help_loads_neither_prefect_nor_the_pipeline():
    code = ("import sys\nfrom pressroom.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('\\n' + __import__('json').dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out.rsplit("\n", 2)[-2])
    heavy = [m for m in loaded if m.split(".")[0] in ("prefect", "sqlalchemy", "alembic", "flows", "channels")
             or m.startswith(("pressroom.delivery", "pressroom.sites", "pressroom.transports", "pressroom.releases"))]
    assert not heavy, heavy
