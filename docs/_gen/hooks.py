"""MkDocs hooks: the pages generated from the code at build time.

* ``reference/cli.md``: every command of the Typer app (``makerkit.cli.app``) with its usage,
  help and options, as ``--help`` prints them;
* ``reference/openapi.json``: the venue's OpenAPI schema from ``makerkit.server.create_app()``,
  and its endpoints as a table in ``reference/rest.md`` (``{{ endpoints }}``);
* ``reference/json.md`` must hold a section for every command that takes ``--json``: a
  command without one fails the (strict) build.

``MAKERKIT_DOCS_EXECUTE=0`` renders the tutorials without running them (a quick build).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.makerkit")

ENDPOINTS_MARK = "{{ endpoints }}"
JSON_PAGE = "reference/json.md"


# ---------------------------------------------------------------- the CLI, walked as click sees it
def _commands() -> list[tuple[list[str], Any, Any]]:
    """(path, command, context) for every group and command, in ``--help`` order."""
    import typer

    from makerkit.cli import app

    root = typer.main.get_command(app)
    found: list[tuple[list[str], Any, Any]] = []

    def walk(cmd: Any, path: list[str], parent: Any) -> None:
        ctx = cmd.context_class(cmd, info_name=path[-1], parent=parent)
        found.append((path, cmd, ctx))
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is not None and not getattr(sub, "hidden", False):
                    walk(sub, [*path, name], ctx)

    walk(root, ["makerkit"], None)
    return found


def _cell(text: str) -> str:
    """Text for a table cell: no pipes, no newlines, no brackets read as reference links."""
    text = text.replace("|", "\\|").replace("[", "\\[").replace("]", "\\]")
    return text.replace("\n", " ").strip()


def cli_markdown() -> str:
    """The command-line reference page."""
    lines = [
        "# Command line",
        "",
        "Generated from the Typer app (`makerkit.cli.app`) at every build: what `--help` says.",
        "Commands marked **--json** end with one line of JSON; its keys are in",
        "[JSON outputs](json.md).",
        "",
    ]
    for path, cmd, ctx in _commands():
        is_group = hasattr(cmd, "list_commands")
        if len(path) > 1:
            depth = "##" if len(path) == 2 else "###"
            lines += [f"{depth} `{' '.join(path)}`", ""]
        if is_group and len(path) > 1:
            subs = cmd.list_commands(ctx)
            lines += [cmd.help or "", "", "Commands: " + ", ".join(f"`{s}`" for s in subs), ""]
            continue
        if is_group:
            lines += [cmd.help or "", ""]
            continue
        usage = cmd.get_usage(ctx).removeprefix("Usage: ")
        json_mark = any("--json" in getattr(p, "opts", ()) for p in cmd.params)
        lines += ["```text", usage, "```", "", (cmd.help or "").strip(), ""]
        if json_mark:
            anchor = "-".join(["makerkit", *path[1:]])
            lines += [f"**--json**: [keys](json.md#{anchor}).", ""]
        rows = []
        for p in cmd.params:
            record = p.get_help_record(ctx)
            if record is None:  # an argument: its name and nothing else to say
                rows.append(
                    (f"`{p.name.upper()}`", "argument" + (" (required)" if p.required else ""))
                )
                continue
            rows.append((f"`{_cell(record[0])}`", _cell(record[1])))
        if rows:
            lines += ["| option | |", "|---|---|"]
            lines += [f"| {a} | {b} |" for a, b in rows]
            lines.append("")
    return "\n".join(lines) + "\n"


def json_commands() -> list[str]:
    """Every command that takes ``--json``, as 'group sub'."""
    return [
        " ".join(path[1:])
        for path, cmd, _ in _commands()
        if not hasattr(cmd, "list_commands")
        and any("--json" in getattr(p, "opts", ()) for p in cmd.params)
    ]


# ---------------------------------------------------------------- the venue's OpenAPI schema
def openapi_schema() -> dict[str, Any]:
    """The schema of the app ``makerkit serve`` runs (a throwaway journal: nothing is kept)."""
    from makerkit.server import Settings, create_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(journal=str(Path(tmp) / "docs.db")))
        return dict(app.openapi())


def endpoints_table(schema: dict[str, Any]) -> str:
    """Method, path, operation id and summary of every endpoint, grouped by tag."""
    rows: dict[str, list[str]] = {}
    for path, ops in schema.get("paths", {}).items():
        for method, op in ops.items():
            if method not in {"get", "post", "put", "delete", "patch"}:
                continue
            tag = (op.get("tags") or ["other"])[0]
            summary = _cell(op.get("summary") or (op.get("description") or "").split("\n")[0])
            rows.setdefault(tag, []).append(
                f"| `{method.upper()}` | `{path}` | `{op.get('operationId', '')}` | {summary} |"
            )
    out = []
    for tag, lines in rows.items():
        out += [f"### {tag}", "", "| method | path | operation id | summary |", "|---|---|---|---|"]
        out += [*lines, ""]
    return "\n".join(out)


_schema: dict[str, Any] | None = None


def on_config(config: Any) -> Any:
    """``MAKERKIT_DOCS_EXECUTE=0``: render the tutorials without running them.

    When they run, their kernels log only errors: each kernel's notice that it talks to the
    build over loopback TCP is not a problem of the manual, and a build that prints warnings
    hides the ones that are (a broken link fails it: strict mode).
    """
    if os.environ.get("MAKERKIT_DOCS_EXECUTE", "1") == "0":
        for name, plugin in config.plugins.items():
            if name.endswith("mkdocs-jupyter"):
                plugin.config["execute"] = False
    elif "IPYTHONDIR" not in os.environ:  # the user's own IPython settings win
        home = Path(tempfile.mkdtemp(prefix="makerkit-docs-ipython-"))
        profile = home / "profile_default"
        profile.mkdir()
        (profile / "ipython_kernel_config.py").write_text('c.IPKernelApp.log_level = "ERROR"\n')
        os.environ["IPYTHONDIR"] = str(home)
        atexit.register(shutil.rmtree, home, ignore_errors=True)
    return config


def on_files(files: Files, config: Any) -> Files:
    """Add the generated pages to the site."""
    global _schema
    _schema = openapi_schema()
    files.append(File.generated(config, "reference/cli.md", content=cli_markdown()))
    files.append(
        File.generated(config, "reference/openapi.json", content=json.dumps(_schema, indent=1))
    )
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Fill the endpoints table; check that every --json command is documented."""
    if ENDPOINTS_MARK in markdown and _schema is not None:
        markdown = markdown.replace(ENDPOINTS_MARK, endpoints_table(_schema))
    if page.file.src_uri == JSON_PAGE:
        documented = set(re.findall(r"^## `makerkit ([^`]+)`", markdown, flags=re.M))
        for name in json_commands():
            if name not in documented:
                log.warning("reference/json.md has no section for `makerkit %s --json`", name)
    return markdown
