"""The `c360` command line (../shared/CONTRACT.md, section 3)."""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import sys
from pathlib import Path

from c360 import engine, pipeline, privacy, warehouse, writer_lock
from c360.progress import one_line
from c360.settings import ENGINES, choose_engine
from c360.tools.generator.config import PROFILES

WAREHOUSE_HELP = (
    "the warehouse: a DuckDB file, or a Spark directory with --engine spark "
    "(default $C360_WAREHOUSE, else data/warehouse.duckdb or data/warehouse.spark)"
)


def _generate(args: argparse.Namespace) -> int:
    from c360.tools.generator.config import profile_config
    from c360.tools.generator.core import generate

    cfg = profile_config(
        args.profile,
        customers=args.customers,
        days=args.days,
        seed=args.seed,
        start_date=dt.date.fromisoformat(args.start_date),
        chunk_size=args.chunk_size,
        workers=args.workers,
    )
    summary = generate(cfg, args.out, progress=args.progress)
    rows = summary["rows_by_table"]
    print(
        f"wrote {sum(rows.values()):,} landing rows in {summary['chunks']} chunk(s) "
        f"to {args.out}/landing" + (f" (profile {cfg.profile})" if cfg.profile != "default" else "")
    )
    for table, n in rows.items():
        print(f"  {table:<22} {n:>12,}")
    print(f"truth in {args.out}/truth")
    return 0


def _run(args: argparse.Namespace) -> int:
    result = pipeline.run(args.landing, args.warehouse, full_refresh=args.full_refresh)
    print(pipeline.format_run(result))
    return 0


def _model_export(args: argparse.Namespace) -> int:
    model = pipeline.export_model(args.out, args.warehouse)
    print(f"wrote {model.version} (trained on {model.records:,} records) to {args.out}")
    return 0


def _model_import(args: argparse.Namespace) -> int:
    model = pipeline.import_model(args.file, args.warehouse)
    print(
        f"{model.version} is now current (matching.splink_models); the next `c360 run` "
        "scores every pair with it"
    )
    return 0


def _export_marts(args: argparse.Namespace) -> int:
    from c360.mart_export import export_marts, format_export

    print(format_export(export_marts(args.out, args.warehouse), args.out))
    return 0


def _train(args: argparse.Namespace) -> int:
    model = pipeline.train(args.warehouse, u_max_pairs=args.u_max_pairs, seed=args.seed)
    print(
        f"trained {model.version} on {model.records:,} identity records; it is now current "
        f"(matching.splink_models). Run `c360 run` or `c360 score` to use it."
    )
    for note in model.notes:
        print(f"  {note}")
    return 0


def _score(args: argparse.Namespace) -> int:
    trained, scoring = pipeline.score(args.warehouse, full=args.full)
    if trained:
        print(f"trained {trained.version} (no model was current)")
    print(
        f"scored {scoring.records:,} records with {scoring.model_version}: "
        f"{scoring.comparisons:,} comparisons, {scoring.pairs_kept:,} pairs kept"
    )
    pipeline.build_after_scoring(args.warehouse)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from c360.tools.generator.config import GeneratorConfig
    from c360.tools.generator.core import generate

    out = Path(args.out)
    cfg = GeneratorConfig(customers=args.customers, days=args.days, seed=args.seed)
    print(f"generating {args.customers:,} customers over {args.days + 1} day(s) into {out} ...")
    summary = generate(cfg, out)
    print(f"  {sum(summary['rows_by_table'].values()):,} landing rows")
    warehouse = out / "warehouse.duckdb"
    # A demo starts from an empty warehouse: its landing zone was just rewritten.
    for stale in (warehouse, warehouse.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    # dbt's progress lines would bury the summary a newcomer is here for;
    # failures still print.
    print("running the pipeline (dbt build, Splink training and scoring) ...")
    result = pipeline.run(out / "landing", warehouse, quiet=True)
    print(pipeline.format_run(result))

    from c360.evaluation import evaluate, format_evaluation, write_evaluation

    scores = evaluate(warehouse, out / "truth")
    report = write_evaluation(scores, out / "evaluation.json")
    pw = scores["pairwise"]
    print(
        f"\nResolved {scores['records']['scored']:,} identity records into "
        f"{scores['clusters']['predicted']:,} customers "
        f"(the generator made {scores['clusters']['true_persons']:,} people). Accuracy against "
        f"the generator's truth: pairwise precision {pw['precision']:.4f}, "
        f"recall {pw['recall']:.4f} (full report: {report}):\n"
    )
    print(format_evaluation(scores))
    db = f"duckdb.connect('{warehouse}', read_only=True)"
    print(
        "\nWhere things are:\n"
        f"  warehouse  {warehouse}  (one DuckDB file)\n"
        "  marts      marts.dim_customer, marts.customer_source_xref, marts.fct_orders,\n"
        "             marts.fct_app_events, marts.fct_pos_transactions, marts.fct_tickets,\n"
        "             marts.customer_id_history, marts.identity_events,\n"
        "             marts.identity_run_metrics, marts.marketing_audience,\n"
        "             marts.privacy_requests, marts.privacy_suppressions\n"
        "  restricted staging.*, intermediate.*, vault.* (PII and matching features),\n"
        "             privacy.* (request log, suppression entries)\n"
        "\nTry:\n"
        f'  .venv/bin/python -c "import duckdb; {db}.sql('
        "'select customer_id, source_count, email_token_source, order_count, order_revenue "
        "from marts.dim_customer order by order_revenue desc limit 5').show()\"\n"
        f"  C360_WAREHOUSE={warehouse} .venv/bin/dbt build --project-dir . --profiles-dir .\n"
        f"  .venv/bin/c360 evaluate --truth {out / 'truth'} --warehouse {warehouse}\n"
        f"  truth: {out / 'truth'} (ground truth for scoring; the pipeline never reads it)"
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from c360.evaluation import evaluate, format_evaluation, write_evaluation
    from c360.warehouse import warehouse_path

    warehouse = warehouse_path(args.warehouse)
    result = evaluate(warehouse, args.truth)
    out = write_evaluation(result, args.out or warehouse.parent / "evaluation.json")
    print(format_evaluation(result))
    print(f"\nwrote {out}")
    return 0


_PRIVACY_ACTIONS = {
    "erase": "erasure",
    "export": "access",
    "opt-out": "opt_out_sale",
    "opt-in": "opt_in_sale",
}


def _privacy(args: argparse.Namespace) -> int:
    request_type = _PRIVACY_ACTIONS[args.action]
    request_id = privacy.submit(
        request_type,
        email=args.email,
        phone=args.phone,
        loyalty_id=args.loyalty_id,
        customer_id=args.customer_id,
        jurisdiction=args.jurisdiction,
        warehouse_file=args.warehouse,
    )
    print(f"request {request_id} ({request_type}, {args.jurisdiction}) recorded")
    if args.defer:
        print("deferred: the next `c360 run` processes it")
        return 0
    if request_type == "access":
        intake = privacy.intake(dt.date.today(), args.warehouse)
        if intake.records_erased or set(intake.requests) - {"completed", "not_found"}:
            pipeline.rebuild(args.warehouse, quiet=True)
    else:
        # Take effect now: the last run date is built again with the request
        # acted on, then purged and the file rewritten (c360/privacy/).
        day = pipeline.rebuild(args.warehouse, quiet=True)
        print(pipeline.format_day(day))
    status = privacy.request_status(request_id, args.warehouse)
    print(
        f"status {status.get('status', 'pending')}"
        + (f" ({status['status_reason']})" if status.get("status_reason") else "")
        + f"; customer {status.get('customer_ids') or '-'}, "
        f"records {status.get('records_affected', 0)}"
    )
    if status.get("export_file"):
        print(f"export written to {status['export_file']}")
    return 0 if status.get("status") in ("completed", "not_found") else 1


def _rotate_key(args: argparse.Namespace) -> int:
    from c360 import tokenization

    if args.new_key_file:
        new_key = Path(args.new_key_file).read_text().strip().encode()
    else:
        new_key = tokenization.new_tokenization_key()
    if not new_key:
        raise ValueError(f"give --new-key-file or set {tokenization.NEW_KEY_ENV}")
    result = pipeline.rotate_tokenization_key(new_key, args.warehouse, at_next_run=args.at_next_run)
    if result.old_tokens_left is None:
        print(
            f"re-tokenized the snapshot history ({result.tokens_mapped:,} vault tokens mapped); "
            "the next `c360 run` re-tokenizes everything else: give it the new key."
        )
        return 0
    print(
        f"re-tokenized: {result.tokens_mapped:,} vault tokens mapped, "
        f"{result.history_values_rekeyed:,} history tokens of values no longer held re-keyed; "
        f"old tokens left anywhere in the warehouse: {result.old_tokens_left}"
    )
    print(
        "Now set C360_TOKENIZATION_KEY (or the file C360_TOKENIZATION_KEY_FILE names) to the new "
        "key for every later run; the old key can be destroyed."
    )
    return 0 if result.old_tokens_left == 0 else 1


def _explain(args: argparse.Namespace) -> int:
    from c360 import explain

    con = warehouse.connect_for_analysis(args.warehouse)
    try:
        if args.customer_id:
            result = explain.explain_customer(con, args.customer_id)
            text = explain.format_customer(result)
        else:
            result = explain.explain_records(con, args.record, args.other)
            text = explain.format_pair(result)
    finally:
        con.close()
    print(explain.to_json(result) if args.json else text)
    return 0


def _purge_bytes(args: argparse.Namespace) -> int:
    path = warehouse.warehouse_path(args.warehouse)
    due = privacy.bytes_purge_due_on(path)
    before = path.stat().st_size
    landing_files = privacy.purge_bytes(path)
    print(
        f"rewrote {landing_files} landing files holding erased rows, and "
        f"{path} ({before / 2**20:,.1f} -> {path.stat().st_size / 2**20:,.1f} MiB): "
        "no erased value is left in their bytes"
        + (f" (the rewrite was due by {due})" if due else "")
    )
    return 0


def _app_settings(args: argparse.Namespace):
    from c360.app.server import settings_for
    from c360.settings import settings

    return settings_for(
        settings(),
        warehouse=args.warehouse and Path(args.warehouse),
        users_file=args.users and Path(args.users),
        truth=getattr(args, "truth", None) and Path(args.truth),
        app_host=getattr(args, "host", None),
        app_port=getattr(args, "port", None),
    )


def _serve(args: argparse.Namespace) -> int:
    from c360.app.server import serve

    return serve(_app_settings(args))


def _users(args: argparse.Namespace) -> int:
    import getpass

    from c360.app import auth

    path = auth.users_file(_app_settings(args))
    if args.action == "list":
        for user in auth.read_users(path).values():
            print(f"{user.name}\t{user.role}")
        return 0
    if args.action == "remove":
        if not auth.remove_user(path, args.name):
            raise ValueError(f"no user {args.name!r} in {path}")
        print(f"removed {args.name} from {path}")
        return 0
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise ValueError("the passwords differ")
    auth.add_user(path, args.name, args.role, password)
    print(f"{args.name} ({args.role}) in {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="c360",
        description="Customer 360 identity resolution",
        epilog=f"{DEBUG_FLAG} (anywhere on the line): show the traceback of a failure",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write a synthetic six-source landing zone and its truth")
    g.add_argument("--customers", type=int, required=True)
    g.add_argument("--days", type=int, default=0, help="change days after the day-0 full extract")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--out", required=True)
    g.add_argument("--start-date", default="2025-01-01", help="date of the day-0 extract")
    g.add_argument(
        "--chunk-size", type=int, default=100_000, help="people per chunk (output depends on it)"
    )
    g.add_argument(
        "--workers", type=int, default=2, help="parallel processes (output does not depend on it)"
    )
    g.add_argument(
        "--profile",
        choices=list(PROFILES),
        default="default",
        help="a named set of knobs (docs/generator.md): default; hard (no email or phone, "
        "3x typos, partial birth dates, a quarter of people abroad); names_dob (names and "
        "birth dates only)",
    )
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    g.set_defaults(func=_generate)

    r = sub.add_parser("run", help="load new landing partitions and build the warehouse")
    r.add_argument("--landing", required=True)
    r.add_argument(
        "--warehouse",
        default=None,
        help=WAREHOUSE_HELP,
    )
    r.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild every derived table from raw and re-score every record (each pending "
        "date, else the last finished one): slow, and equal to the incremental result",
    )
    r.set_defaults(func=_run)

    t = sub.add_parser(
        "train",
        help="re-estimate the identity model from the warehouse's records and make it current",
    )
    t.add_argument("--warehouse", default=None, help=WAREHOUSE_HELP)
    t.add_argument("--u-max-pairs", type=float, default=5e6, help="random pairs for u estimation")
    t.add_argument("--seed", type=int, default=42)
    t.set_defaults(func=_train)

    s = sub.add_parser(
        "score", help="re-score identity records with the current model and rebuild what follows"
    )
    s.add_argument("--warehouse", default=None, help=WAREHOUSE_HELP)
    s.add_argument(
        "--full",
        action="store_true",
        help="score every blocked pair again, not only those of records changed since last scored",
    )
    s.set_defaults(func=_score)

    m = sub.add_parser(
        "model", help="the trained identity model as a file: export it, import it elsewhere"
    )
    models = m.add_subparsers(dest="action", required=True)
    me = models.add_parser("export", help="write the current model to a JSON file")
    me.add_argument("--out", required=True)
    me.add_argument("--warehouse", default=None, help=WAREHOUSE_HELP)
    me.set_defaults(func=_model_export)
    mi = models.add_parser(
        "import", help="make an exported model current here (no training; any engine)"
    )
    mi.add_argument("file")
    mi.add_argument("--warehouse", default=None, help=WAREHOUSE_HELP)
    mi.set_defaults(func=_model_import)

    x = sub.add_parser(
        "export-marts", help="write every mart as Parquet, one folder per mart (DIR/<mart>/)"
    )
    x.add_argument("--out", required=True, help="the folder to write the marts' folders into")
    x.add_argument("--warehouse", default=None, help=WAREHOUSE_HELP)
    x.set_defaults(func=_export_marts)

    ex = sub.add_parser(
        "explain", help="why records are (or are not) one customer: edges, weights, vetoes"
    )
    subject = ex.add_mutually_exclusive_group(required=True)
    subject.add_argument("--customer-id", help="the path of edges joining the customer's records")
    subject.add_argument("--record", help="SOURCE_TABLE:KEY, explained against --other")
    ex.add_argument("--other", help="SOURCE_TABLE:KEY: the second record of --record")
    ex.add_argument("--json", action="store_true", help="JSON for tools instead of text")
    ex.add_argument("--warehouse", default=None, help=WAREHOUSE_HELP)
    ex.set_defaults(func=_explain)

    d = sub.add_parser("demo", help="generate a small data set, run the pipeline, print a summary")
    d.add_argument("--customers", type=int, default=20_000)
    d.add_argument("--days", type=int, default=3)
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--out", default="data/demo")
    d.set_defaults(func=_demo)

    e = sub.add_parser(
        "evaluate", help="score the resolved customers against the generator's truth"
    )
    e.add_argument("--truth", required=True, help="truth directory written by c360 generate")
    e.add_argument(
        "--warehouse",
        default=None,
        help=WAREHOUSE_HELP,
    )
    e.add_argument(
        "--out", default=None, help="JSON file (default <warehouse dir>/evaluation.json)"
    )
    e.set_defaults(func=_evaluate)

    p = sub.add_parser(
        "privacy", help="GDPR/CCPA requests: erase, export, opt-out, opt-in; key rotation"
    )
    actions = p.add_subparsers(dest="action", required=True)
    for action, text in (
        ("erase", "erase the subject from every table, history and the file (docs/privacy.md)"),
        ("export", "write everything held on the subject as a JSON file (access request)"),
        ("opt-out", "opt the subject out of the sale or sharing of their data (CCPA)"),
        ("opt-in", "withdraw an opt-out of sale or sharing"),
    ):
        a = actions.add_parser(action, help=text)
        subject = a.add_argument_group("subject (one or more)")
        subject.add_argument("--email")
        subject.add_argument("--phone")
        subject.add_argument("--loyalty-id")
        subject.add_argument(
            "--customer-id", help="a customer id (cus_...) or a web shop account id"
        )
        a.add_argument("--jurisdiction", choices=["GDPR", "CCPA"], default="GDPR")
        a.add_argument("--warehouse", default=None, help=WAREHOUSE_HELP)
        a.add_argument(
            "--defer", action="store_true", help="only record it; the next daily run acts on it"
        )
        a.set_defaults(func=_privacy)
    rk = actions.add_parser(
        "rotate-key", help="re-tokenize the warehouse under a new tokenization key"
    )
    rk.add_argument(
        "--new-key-file", help="file holding the new key (else $C360_TOKENIZATION_KEY_NEW)"
    )
    rk.add_argument(
        "--at-next-run",
        action="store_true",
        help="re-tokenize the history now and leave the rest to the next daily run",
    )
    rk.add_argument("--warehouse", default=None, help=WAREHOUSE_HELP)
    rk.set_defaults(func=_rotate_key)
    pb = actions.add_parser(
        "purge-bytes",
        help="rewrite the warehouse file now, so erased values leave its bytes (the daily run "
        f"does it at the latest {privacy.BYTE_PURGE_WITHIN_DAYS} days after an erasure)",
    )
    pb.add_argument("--warehouse", default=None, help=WAREHOUSE_HELP)
    pb.set_defaults(func=_purge_bytes)

    users_help = "the app's accounts (default $C360_USERS_FILE, else <warehouse dir>/c360_users)"
    sv = sub.add_parser(
        "serve", help="the Customer 360 web app: lookup, review queue, run dashboard (docs/app.md)"
    )
    sv.add_argument("--warehouse", default=None, help=WAREHOUSE_HELP)
    sv.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=None, help="port (default 8360)")
    sv.add_argument("--users", default=None, help=users_help)
    sv.add_argument("--truth", default=None, help="the generator's truth, for accuracy")
    sv.set_defaults(func=_serve)
    u = sub.add_parser("users", help="the app's local accounts: add, list, remove")
    user_actions = u.add_subparsers(dest="action", required=True)
    ua = user_actions.add_parser("add", help="add a user, or set their role and password")
    ua.add_argument("name")
    ua.add_argument("--role", choices=["analyst", "steward"], required=True)
    ua.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin, not a prompt"
    )
    ur = user_actions.add_parser("remove", help="remove a user")
    ur.add_argument("name")
    ul = user_actions.add_parser("list", help="list users and their roles")
    for command in (ua, ur, ul):
        command.add_argument("--users", default=None, help=users_help)
        command.add_argument("--warehouse", default=None, help=WAREHOUSE_HELP)
        command.set_defaults(func=_users)
    for command in [*sub.choices.values(), *actions.choices.values(), *models.choices.values()]:
        if any(action.dest == "warehouse" for action in command._actions):
            command.add_argument(
                "--engine",
                choices=ENGINES,
                default=None,
                help="the engine running the warehouse (default $C360_ENGINE or duckdb)",
            )
    return parser


DEBUG_FLAG = "--debug"


def main(argv: list[str] | None = None) -> int:
    """Run a command. A failure is one line naming what failed, and an exit
    code (2: bad input, 3: the warehouse is in use, 4: the disk is full, 1:
    anything else);
    `--debug`, anywhere on the line, shows the traceback instead."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in argv
    argv = [arg for arg in argv if arg != DEBUG_FLAG]
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "explain" and bool(args.record) != bool(args.other):
        parser.error("explain: --record and --other go together")
    choose_engine(getattr(args, "engine", None))
    try:
        return args.func(args)
    except Exception as exc:
        if debug:
            raise
        code, message = _failure(exc)
        print(f"c360 {args.command}: {message}", file=sys.stderr)
        if code == 1:
            print(f"(run it again with {DEBUG_FLAG} for the traceback)", file=sys.stderr)
        return code


def _failure(exc: Exception) -> tuple[int, str]:
    """The exit code and message of a failed command."""
    if isinstance(exc, writer_lock.WarehouseInUse):
        return 3, f"the warehouse is in use: {exc}"
    if isinstance(exc, engine.WarehouseBusy):
        return 3, f"the warehouse is busy: {exc}"
    if isinstance(exc, (FileNotFoundError, ValueError)):
        return 2, f"error: {exc}"
    text = one_line(str(exc)) or type(exc).__name__
    if "No space left on device" in str(exc) or getattr(exc, "errno", None) == errno.ENOSPC:
        return 4, (
            f"the disk is full: {text}. Free space, then run the same command again: "
            "it continues where it stopped"
        )
    return 1, f"failed: {text}"


if __name__ == "__main__":
    sys.exit(main())
