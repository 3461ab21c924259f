"""cleanup plan (make a plan), cleanup plan show, cleanup plan approve"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import click

from ..errors import PolicyError, UsageError
from ..plan import (
    DEFAULT_EXPIRY_DAYS,
    Plan,
    approvals_needed,
    build,
    decode_name,
    groups,
    load,
    valid_approvers,
)
from ..plan import approve as approve_plan
from ..tally import plan_potential_sentence
from ..units import parse_age
from . import main
from .common import Context, shown, size, table


def _evaluate(source: str, ctx: Context) -> Any:
    try:
        policies = importlib.import_module("policies")
    except ImportError as exc:
        raise PolicyError(
            f"The policy engine cannot be loaded ({exc}); reinstall cleanup."
        ) from exc
    load_policy = getattr(policies, "load", None)
    if load_policy is None:
        raise PolicyError(
            "This installation of cleanup has no policy engine (policies.load is missing)."
        )
    return load_policy(source).evaluate(ctx.inventory())


@main.group("plan", invoke_without_command=True)
@click.option(
    "--policy",
    "policy",
    metavar="FILE|PACK",
    help="A policy file, or a shipped pack such as staff.",
)
@click.option(
    "-o",
    "--output",
    default="plan.json",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the plan.",
)
@click.option(
    "--expires",
    default=f"{DEFAULT_EXPIRY_DAYS:g}d",
    show_default=True,
    help="How long the plan stays valid: 2d, 1w, 30d.",
)
@click.pass_context
def plan_group(click_ctx: click.Context, policy: str | None, output: str, expires: str) -> None:
    """Propose what to remove, as a plan file. Changes nothing but the plan file.

    Evaluates the inventory with a policy and writes a plan (JSON, with a content hash)
    that `cleanup review`, `cleanup plan approve` and `cleanup apply` read.

    \b
    Example:
      cleanup plan --policy staff -o plan.json
      cleanup plan --policy ./admin.toml --expires 2d -o plan.json
      cleanup plan show plan.json
    """
    if click_ctx.invoked_subcommand is not None:
        return
    if not policy:
        raise UsageError(
            "Name a policy: cleanup plan --policy staff -o plan.json (or a policy file)."
        )
    ctx = click_ctx.find_object(Context)
    assert ctx is not None
    days = parse_age(expires)
    if days <= 0:
        raise UsageError(f"--expires must be a positive age, e.g. 7d; got {expires!r}.")
    evaluation = _evaluate(policy, ctx)
    made, warnings = build(evaluation, ctx.inventory(), expires_days=days, policy_source=policy)
    for w in warnings:
        click.secho(f"Warning: {shown(w)}", fg="yellow", err=True)
    made.save(output)
    if not ctx.quiet:
        _summary(made)
        click.echo(plan_potential_sentence(made.acting, ctx.inventory()))
        if evaluation.protected:
            click.echo(f"{len(evaluation.protected):,} protected items were left out.")
        click.echo(
            f"Plan written to {output} (sha256 {made.sha256[:12]}), valid until {made.body['expires']}."
        )
        click.echo(
            f"Next: cleanup plan show {output}  |  cleanup review {output}  |  cleanup apply {output}"
        )


def _summary(p: Plan) -> None:
    t = p.body["totals"]
    click.echo(
        f"Policy {p.body['policy']['name']}: {t['items']:,} items to act on, {size(t['storage_bytes'])}, "
        f"of which {size(t.get('reclaimable_bytes', 0))} reclaimable."
    )
    for action, v in sorted(t["by_action"].items()):
        click.echo(
            f"  {action:<14} {v['items']:>8,} items  {size(v['storage_bytes']):>10}"
            f"  ({size(v.get('reclaimable_bytes', 0))} reclaimable)"
        )


def _where(e: dict[str, Any]) -> str:
    path = shown(decode_name(e, "path"))
    return path if e["provider"] == "local" else f"{e['provider']}:{e['account']} {path}"


def _table(p: Plan) -> None:
    b = p.body
    click.echo(
        f"Plan {p.sha256[:12]}  policy {b['policy']['name']}  made {b['created']}  expires {b['expires']}"
    )
    _summary(p)
    needed, why = approvals_needed(p)
    have = valid_approvers(p)
    if needed or have:
        click.echo(
            f"Approvals: {len(have)} of {needed} needed"
            + (f" ({why})" if why else "")
            + (f": {', '.join(have)}" if have else "")
        )
    for title, entries in groups(b["entries"]):
        click.echo(f"\n{shown(title)}")
        rows = [
            [e["entry"], e["action"], size(e.get("storage_bytes")), _where(e), e.get("reason", "")]
            for e in entries
        ]
        click.echo(table(rows, ["#", "action", "size", "path", "reason"]))


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _markdown(p: Plan) -> None:
    b = p.body
    out = [
        f"# Plan {p.sha256[:12]}",
        "",
        f"- Policy: **{_md(b['policy']['name'])}** (sha256 {b['policy']['sha256'][:12]})",
        f"- Made: {b['created']}, expires {b['expires']}",
        f"- To act on: {b['totals']['items']:,} items, {size(b['totals']['storage_bytes'])}",
        "",
        "| action | items | storage |",
        "|---|---:|---:|",
    ]
    for action, v in sorted(b["totals"]["by_action"].items()):
        out.append(f"| {action} | {v['items']:,} | {size(v['storage_bytes'])} |")
    for title, entries in groups(b["entries"]):
        out += [
            "",
            f"## {_md(shown(title))}",
            "",
            "| # | action | size | path | reason |",
            "|---:|---|---:|---|---|",
        ]
        for e in entries:
            out.append(
                f"| {e['entry']} | {e['action']} | {size(e.get('storage_bytes'))} | `{_md(_where(e))}` | {_md(e.get('reason', ''))} |"
            )
    click.echo("\n".join(out))


@plan_group.command("show")
@click.argument("plan_file", type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown", "json"]),
    default="table",
    show_default=True,
)
def show_command(plan_file: str, fmt: str) -> None:
    """Print a plan for people (table, Markdown) or scripts (json). Changes nothing.

    \b
    Example:
      cleanup plan show plan.json
      cleanup plan show plan.json --format markdown > plan.md
    """
    p = load(plan_file)
    if fmt == "json":
        json.dump(p.to_json(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    elif fmt == "markdown":
        _markdown(p)
    else:
        _table(p)


@plan_group.command("approve")
@click.argument("plan_file", type=click.Path(dir_okay=False))
@click.option("--by", "by", required=True, help="Who approves: a name or e-mail address.")
def approve_command(plan_file: str, by: str) -> None:
    """Approve a plan: record who, when and the plan hash they saw.

    The approval is stored in the plan file beside the hashed content, so it never changes
    what was approved. A policy can require approvals before `cleanup apply` will run.

    \b
    Example:
      cleanup plan approve plan.json --by "Ada Lovelace"
    """
    p = load(plan_file)
    if not approve_plan(p, by):
        click.echo(f"{by} had already approved this plan (sha256 {p.sha256[:12]}).")
        return
    p.save(plan_file)
    needed, why = approvals_needed(p)
    have = len(valid_approvers(p))
    click.echo(
        f"Approved by {by} (sha256 {p.sha256[:12]}). Approvals: {have} of {max(needed, have)} needed."
    )
