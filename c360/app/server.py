"""The Customer 360 app (`c360 serve`): server-rendered pages over the
marts and the vault.

- /search and /customers/<id>: a customer's golden record, source records,
  activity, id history and privacy state
- /review: the stewards' queue, each item explained (c360.explain), accept or
  reject
- /runs: the run dashboard

Every page needs a login (c360/app/auth.py). An analyst gets PII masked on
the server; a steward gets it decoded, and each such view is written to the
audit log first: if that write fails, the page is not shown (fail closed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import os
import secrets
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import plotly
from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from c360 import explain
from c360.app import auth, charts, queries
from c360.app import search as search_terms
from c360.app.masking import mask
from c360.settings import Settings

HERE = Path(__file__).parent
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
QUEUE_PAGE = 50
SESSION_HOURS = 8
DECISIONS = {"accept": "must_link", "reject": "cannot_link"}
# A customer item lists at most this many waterfalls (a flagged cluster can
# hold many vetoed pairs; the rest are listed without a chart).
ITEM_CHARTS = 6


class LoginRequired(Exception):
    pass


class Forbidden(Exception):
    pass


class AuditFailed(Exception):
    pass


def _money(value) -> str:
    return "" if value is None else f"{Decimal(value):,.2f}"


def _timestamp(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _number(value, digits: int = 0) -> str:
    if value is None:
        return ""
    return f"{value:,.{digits}f}" if digits else f"{value:,}"


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters.update(money=_money, ts=_timestamp, num=_number)
    return templates


def local_redirect(target: str | None) -> str:
    """A redirect target on this site only (no open redirect)."""
    # '//host' and '/\host' are other sites to a browser.
    local = target and target.startswith("/") and target[1:2] not in ("/", "\\")
    return target if local and target.isprintable() else "/search"


def _split_key(record_key: str) -> tuple[str, str]:
    table, _, record_id = record_key.partition(":")
    return table, record_id


def _display(kind: str, value, reveal: bool):
    """A decoded or normalized PII value as the user may see it."""
    if value in (None, ""):
        return None
    if kind == "address":
        # The vault's address value is 'street|postal code'.
        value = str(value).split("|")[0]
    if reveal:
        return str(value)
    return mask(kind, value)


def _name(record: dict) -> str | None:
    parts = [
        record.get("first_name_normalized"),
        record.get("last_name_normalized"),
        record.get("name_suffix"),
    ]
    return " ".join(p for p in parts if p) or None


def _source_record_view(record: dict, reveal: bool) -> dict:
    return {
        "source_table": record["source_table"],
        "source_record_id": record["source_record_id"],
        "record_key": f"{record['source_table']}:{record['source_record_id']}",
        "customer_id": record["customer_id"],
        "is_anonymous": record.get("is_anonymous"),
        "email": _display("email", record.get("email_normalized"), reveal),
        "phone": _display("phone", record.get("phone_e164"), reveal),
        "name": _display("name", _name(record), reveal),
        "date_of_birth": _display("date_of_birth", record.get("date_of_birth_normalized"), reveal),
        "address": _display("address", record.get("street_address_normalized"), reveal),
        "city": record.get("city_normalized"),
        "state": record.get("state_normalized"),
        "postal_code": record.get("postal_code_normalized"),
        "loyalty_id": _display("loyalty_id", record.get("loyalty_id"), reveal),
        "updated_at": record.get("record_updated_at"),
    }


PII_FIELDS = ("email", "phone", "name", "date_of_birth", "address", "loyalty_id")


def _pii_shown(views: list[dict]) -> str:
    """Which decoded attributes a page shows: the audit row's detail."""
    return ",".join(f for f in PII_FIELDS if any(v.get(f) for v in views))


def current_user(request: Request) -> auth.User:
    """The session's user, if the account still exists with that role."""
    name = request.session.get("user")
    user = auth.read_users(request.app.state.users_path).get(name) if name else None
    if user is None or user.role != request.session.get("role"):
        raise LoginRequired
    return user


# A dependency, so that it runs before a form is validated: without a login,
# a request learns nothing, not even which fields a form wants.
User = Annotated[auth.User, Depends(current_user)]


def create_app(settings: Settings, *, secret_key: str | None = None) -> FastAPI:
    """The app over `settings.warehouse`, its accounts in auth.users_file(settings),
    the accuracy from settings.truth when set."""
    path = Path(settings.warehouse)
    users_path = auth.users_file(settings)
    project_dir = Path(settings.dbt_project_dir)
    templates = _templates()
    # Accuracy per last run: evaluate() takes seconds, and changes only when a run does.
    accuracy_cache: dict[object, dict] = {}
    secret = secret_key or os.environ.get("C360_APP_SECRET_KEY") or secrets.token_urlsafe(32)

    app = FastAPI(title="Customer 360", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.users_path = users_path
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="c360_session",
        max_age=SESSION_HOURS * 3600,
        same_site="strict",
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def no_caching_of_pages(request: Request, call_next):
        response = await call_next(request)
        # Pages may hold decoded PII: no cache keeps them, no frame shows them.
        if not request.url.path.startswith(("/static", "/assets")):
            response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "frame-ancestors 'none'; form-action 'self'"
        )
        return response

    def csrf_token(request: Request) -> str:
        if "csrf" not in request.session:
            request.session["csrf"] = secrets.token_urlsafe(32)
        return request.session["csrf"]

    def check_csrf(request: Request, token: str) -> None:
        if not hmac.compare_digest(token or "", request.session.get("csrf", "")):
            raise Forbidden("the form expired or came from elsewhere: reload the page")

    def page(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            name,
            {
                "user": context.pop("user", None),
                "csrf": csrf_token(request),
                **context,
            },
            status_code=status_code,
        )

    def audit(user: auth.User, action: str, subject: str | None, detail: str | None) -> None:
        try:
            with queries.writing(path) as con:
                queries.audit(
                    con,
                    username=user.name,
                    role=user.role,
                    action=action,
                    subject=subject,
                    detail=detail,
                )
        except Exception as failed:
            raise AuditFailed(str(failed)) from failed

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _: LoginRequired) -> Response:
        if request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={target}", status_code=303)
        return HTMLResponse("login required", status_code=401)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, error: Forbidden) -> Response:
        return page(request, "message.html", 403, title="Not allowed", message=str(error))

    @app.exception_handler(queries.WarehouseBusy)
    async def busy(request: Request, _: queries.WarehouseBusy) -> Response:
        return page(
            request,
            "message.html",
            503,
            title="Warehouse busy",
            message="A pipeline run holds the warehouse; try again when it finishes.",
        )

    @app.exception_handler(AuditFailed)
    async def audit_failed(request: Request, _: AuditFailed) -> Response:
        return page(
            request,
            "message.html",
            503,
            title="Audit log unavailable",
            message="The audit log could not be written, so decoded data is not shown. "
            "Try again in a moment (a pipeline run may hold the warehouse).",
        )

    @app.get("/assets/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(PLOTLY_JS, media_type="text/javascript")

    # --- login ----------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/search") -> HTMLResponse:
        return page(request, "login.html", next=local_redirect(next), error=None)

    @app.post("/login")
    def login(
        request: Request,
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        csrf: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/search",
    ) -> Response:
        check_csrf(request, csrf)
        user = auth.authenticate(users_path, username, password)
        if user is None:
            anonymous = auth.User(username[:64], "none", "")
            audit(anonymous, "login_failed", username[:64], None)
            return page(
                request,
                "login.html",
                401,
                next=local_redirect(next),
                error="Wrong name or password.",
            )
        audit(user, "login", user.name, None)
        # A fresh session at login: nothing from before it carries over.
        request.session.clear()
        request.session.update(user=user.name, role=user.role, csrf=secrets.token_urlsafe(32))
        return RedirectResponse(local_redirect(next), status_code=303)

    @app.post("/logout")
    def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        check_csrf(request, csrf)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # --- search and the customer's page ---------------------------------------------

    @app.get("/")
    def home() -> Response:
        return RedirectResponse("/search", status_code=303)

    @app.get("/search", response_class=HTMLResponse)
    def search_form(request: Request, user: User) -> HTMLResponse:
        return page(request, "search.html", user=user, query="", results=None)

    # POST, so that an email or phone searched for stays out of URLs,
    # access logs and browser history.
    @app.post("/search")
    def search(
        request: Request,
        user: User,
        q: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ):
        check_csrf(request, csrf)
        terms = search_terms.parse(q, project_dir)
        with queries.reading(path) as con:
            results = queries.search(con, terms)
        if len(results) == 1:
            return RedirectResponse(f"/customers/{results[0]['customer_id']}", status_code=303)
        return page(request, "search.html", user=user, query=q, results=results)

    @app.get("/customers/{customer_id}", response_class=HTMLResponse)
    def customer_page(
        request: Request, user: User, customer_id: str, merged_from: str | None = None
    ):
        reveal = user.role == "steward"
        with queries.reading(path) as con:
            status = queries.id_status(con, customer_id)
            if status is None:
                return page(
                    request,
                    "message.html",
                    404,
                    user=user,
                    title="Not found",
                    message="No customer has this id.",
                )
            if status["status"] == "merged" and status["current_customer_id"]:
                return RedirectResponse(
                    f"/customers/{status['current_customer_id']}?merged_from={customer_id}",
                    status_code=303,
                )
            row = queries.customer(con, customer_id) if status["status"] == "active" else None
            view = _customer_view(con, row, reveal) if row else None
        if view is None:
            # Erased, retired (or active without a golden record yet): the
            # id's status and nothing else.
            if status["status"] == "erased":
                audit(user, "view_erased", customer_id, None)
            return page(request, "inactive.html", user=user, status=status)
        shown = _pii_shown([*view["source_records"], *view["golden_pii"]])
        if reveal and shown:
            audit(user, "view_pii", customer_id, shown)
        return page(
            request,
            "customer.html",
            user=user,
            reveal=reveal,
            merged_from=merged_from,
            **view,
        )

    def _customer_view(con, row: dict, reveal: bool) -> dict:
        customer_id = row["customer_id"]
        decoded = queries.decode_tokens(con, [row[c] for c in queries.TOKEN_ATTRIBUTES])
        golden, golden_pii = [], []
        for column in queries.GOLDEN_ATTRIBUTES:
            value = row[column]
            if column in queries.TOKEN_ATTRIBUTES:
                kind = queries.TOKEN_ATTRIBUTES[column]
                value = _display(kind, decoded.get(value) if value else None, reveal)
                golden_pii.append({kind: value})
            elif column == "loyalty_id":
                value = _display("loyalty_id", value, reveal)
                golden_pii.append({"loyalty_id": value})
            golden.append(
                {
                    "attribute": column.removesuffix("_token"),
                    "value": value,
                    "source": row.get(f"{column}_source"),
                    "updated_at": row.get(f"{column}_updated_at"),
                }
            )
        records = queries.source_records(con, queries.customer_record_keys(con, customer_id))
        history = queries.id_history(con, customer_id)
        ids = sorted({h["customer_id"] for h in history} | {customer_id})
        requests = queries.privacy_requests(con, ids)
        return {
            "customer": row,
            "golden": golden,
            "golden_pii": golden_pii,
            "source_records": [_source_record_view(r, reveal) for r in records],
            "timeline": queries.timeline(con, customer_id),
            "timeline_limit": queries.TIMELINE_LIMIT,
            "history": history,
            "events": queries.identity_events(con, ids),
            "privacy_requests": requests,
            "erasure_pending": any(
                r["request_type"] == "erasure" and r["status"] in ("pending", "needs_review")
                for r in requests
            ),
        }

    # --- the review queue -----------------------------------------------------------

    @app.get("/review", response_class=HTMLResponse)
    def review_queue(request: Request, user: User, page_number: int = 1) -> HTMLResponse:
        page_number = max(page_number, 1)
        state = queries.warehouse_state(path)
        with queries.reading(path) as con:
            items, total = queries.review_queue(
                con,
                state.decided_items(),
                limit=QUEUE_PAGE,
                offset=(page_number - 1) * QUEUE_PAGE,
            )
        return page(
            request,
            "review_queue.html",
            user=user,
            items=items,
            total=total,
            decided=state.pending,
            run=state.last_run,
            page_number=page_number,
            pages=max(1, -(-total // QUEUE_PAGE)),
        )

    def _decidable_pairs(con, item: dict) -> tuple[list[explain.Edge], object]:
        """The pairs a steward may decide on this item, and its explanation."""
        if item["item_type"] == "pair":
            pair = explain.explain_records(con, item["record_key_a"], item["record_key_b"])
            direct = pair.direct or explain.Edge(
                item["record_key_a"], item["record_key_b"], None, [], False, False
            )
            return [direct], pair
        customer = explain.explain_customer(con, item["customer_id_a"])
        return [*customer.cut_edges, *customer.vetoed], customer

    @app.get("/review/item", response_class=HTMLResponse)
    def review_item(request: Request, user: User, id: str) -> HTMLResponse:
        reveal = user.role == "steward"
        decisions = queries.warehouse_state(path).decisions_on(id)
        with queries.reading(path) as con:
            item = queries.review_item(con, id)
            if item is None:
                return page(
                    request,
                    "message.html",
                    404,
                    user=user,
                    title="Not in the queue",
                    message="This item is not in the review queue: a run applied its "
                    "decision, or the records changed.",
                )
            try:
                pairs, explanation = _decidable_pairs(con, item)
            except explain.UnknownSubject as gone:
                return page(
                    request,
                    "message.html",
                    404,
                    user=user,
                    title="Records changed",
                    message=f"{gone}: the next run refreshes the queue.",
                )
            keys = sorted({k for e in pairs for k in (e.record_key_a, e.record_key_b)})
            records = queries.source_records(con, [_split_key(k) for k in keys])
        record_views = [_source_record_view(r, reveal) for r in records]
        shown = _pii_shown(record_views)
        if reveal and shown:
            audit(user, "view_pii", id, f"{shown} of {', '.join(keys)}")
        charted = [e for e in pairs if e.prior is not None][:ITEM_CHARTS]
        return page(
            request,
            "review_item.html",
            user=user,
            reveal=reveal,
            item=item,
            explanation=explanation,
            pairs=pairs,
            waterfalls={
                (e.record_key_a, e.record_key_b): charts.to_html(charts.waterfall(e))
                for e in charted
            },
            records=record_views,
            decisions=decisions,
        )

    @app.post("/review/decide")
    def decide(
        request: Request,
        user: User,
        review_item_id: Annotated[str, Form()],
        record_key_a: Annotated[str, Form()],
        record_key_b: Annotated[str, Form()],
        decision: Annotated[str, Form()],
        reason: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        check_csrf(request, csrf)
        if user.role != "steward":
            raise Forbidden("only a steward decides review items")
        if decision not in DECISIONS:
            raise Forbidden(f"a decision is accept or reject, not {decision!r}")
        reason = " ".join(reason.split())[:500]
        if not reason:
            raise Forbidden("give a reason for the decision")
        with queries.reading(path) as con:
            item = queries.review_item(con, review_item_id)
            allowed = (
                {(e.record_key_a, e.record_key_b) for e in _decidable_pairs(con, item)[0]}
                if item
                else set()
            )
        if (record_key_a, record_key_b) not in allowed:
            raise Forbidden("this pair is not one of the item's to decide")
        with queries.writing(path) as con:
            queries.record_decision(
                con,
                override_type=DECISIONS[decision],
                record_key_a=record_key_a,
                record_key_b=record_key_b,
                reason=reason,
                username=user.name,
                role=user.role,
                review_item_id=review_item_id,
            )
        return RedirectResponse(f"/review/item?id={review_item_id}", status_code=303)

    # --- the run dashboard ----------------------------------------------------------

    @app.get("/runs", response_class=HTMLResponse)
    def runs(request: Request, user: User, date: str | None = None) -> HTMLResponse:
        state = queries.warehouse_state(path)
        dates, all_timings = state.runs, state.timings
        chosen = next(
            (d["run_date"] for d in dates if str(d["run_date"]) == date),
            dates[0]["run_date"] if dates else None,
        )
        with queries.reading(path) as con:
            metrics = queries.run_metrics(con)
            figures = {
                "match_weights": charts.match_weight_histogram(queries.match_weight_bins(con)),
                "cluster_sizes": charts.cluster_size_histogram(queries.cluster_sizes(con)),
                "id_changes": charts.id_changes_over_time(metrics),
                "stage_timings": charts.stage_timings(all_timings),
            }
        last = state.last_run
        accuracy = None
        if settings.truth and last:
            key = (str(last["run_date"]), str(last["completed_at"]))
            if key not in accuracy_cache:
                from c360.evaluation import evaluate

                with queries.exclusive():
                    accuracy_cache.clear()
                    try:
                        accuracy_cache[key] = evaluate(path, settings.truth)
                    except (FileNotFoundError, ValueError) as unusable:
                        # A wrong --truth costs the accuracy card, not the page.
                        accuracy_cache[key] = {"error": str(unusable)}
            accuracy = accuracy_cache[key]
        return page(
            request,
            "runs.html",
            user=user,
            dates=dates,
            chosen=chosen,
            day=next((m for m in metrics if m["run_date"] == chosen), None),
            timings=[t for t in all_timings if t["run_date"] == chosen],
            charts={name: charts.to_html(f) for name, f in figures.items()},
            accuracy=accuracy,
            truth=settings.truth,
        )

    return app


def serve(settings: Settings, *, secret_key: str | None = None) -> int:
    """Run the app until interrupted: on settings.app_host (127.0.0.1 unless
    told otherwise), settings.app_port."""
    import uvicorn

    users_path = auth.users_file(settings)
    if not auth.read_users(users_path):
        print(
            f"c360 serve: no accounts in {users_path}. Add one first, e.g.\n"
            f"  c360 users add NAME --role steward --users {users_path}\n"
            "(roles: analyst sees masked PII; steward sees it decoded and decides "
            "review items). docs/app.md",
            file=sys.stderr,
        )
        return 2
    if not Path(settings.warehouse).exists():
        print(
            f"c360 serve: no warehouse at {settings.warehouse}: run `c360 run` first",
            file=sys.stderr,
        )
        return 2
    try:
        # Creates the decisions and audit tables on a warehouse from before
        # them, and on Spark starts the session now rather than at the first login.
        with queries.writing(Path(settings.warehouse)):
            pass
    except queries.WarehouseBusy:
        print("c360 serve: a pipeline run holds the warehouse; pages wait for it", file=sys.stderr)
    app = create_app(settings, secret_key=secret_key)
    print(
        f"Customer 360 on http://{settings.app_host}:{settings.app_port}/ "
        f"(warehouse {settings.warehouse}, accounts {users_path}); Ctrl-C stops it"
    )
    uvicorn.run(app, host=settings.app_host, port=settings.app_port, log_level="warning")
    return 0


def settings_for(settings: Settings, **chosen) -> Settings:
    """The settings with what a command line chose over them (None: keep)."""
    return dataclasses.replace(settings, **{k: v for k, v in chosen.items() if v is not None})
