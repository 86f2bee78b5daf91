"""Activity (orders, app events, store sales, tickets) and privacy requests."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from c360.tools.generator.config import DAY_S

EVENT_TYPES = np.array(["app_open", "product_view", "search", "add_to_cart", "purchase", "login"])
EVENT_P = np.array([0.3, 0.35, 0.15, 0.1, 0.05, 0.05])
TICKET_CATEGORIES = np.array(
    ["order_status", "returns", "billing", "account", "product", "complaint"]
)
CHANNELS = np.array(["phone", "email", "chat"])
ORDER_STATUS = np.array(["delivered", "shipped", "cancelled", "returned"])
HISTORY_DAYS = {
    "ecommerce_orders": 730,
    "mobile_app_events": 30,
    "pos_transactions": 365,
    "crm_tickets": 730,
}


class ActivityMixin:
    """Activity rows for a ChunkSimulator's live records, day by day."""

    def _spread(self, src: str, table: str, rate: float, day: int, rng):
        """Activity rows per live record: counts and timestamps (seconds)."""
        recs = self.records[src]
        live = np.where(recs.alive)[0]
        if day == 0:
            window = np.minimum(HISTORY_DAYS[table] * DAY_S, self.start_ts - recs.created_ts[live])
            counts = rng.poisson(rate * np.maximum(window, 0) / DAY_S)
            owners = np.repeat(live, counts)
            start = self.start_ts - np.repeat(window, counts)
            when = start + (rng.random(len(owners)) * np.repeat(window, counts)).astype(np.int64)
        else:
            counts = rng.poisson(rate, len(live))
            owners = np.repeat(live, counts)
            when = self.start_ts + day * DAY_S + rng.integers(0, DAY_S, len(owners))
        when = np.maximum(when, recs.created_ts[owners] + 60)
        order = np.lexsort((when, owners))
        return owners[order], when[order]

    def _activity(self, day: int, emit) -> None:
        rng = self.rng(day, "activity")
        ch, p = self.cfg.changes, self.p
        us = 1_000_000

        owners, when = self._spread(
            "ecommerce", "ecommerce_orders", ch.orders_per_account_day, day, rng
        )
        if len(owners):
            n = len(owners)
            ec = self.records["ecommerce"]
            totals = np.round(rng.lognormal(4.0, 0.8, n), 2)
            status = ORDER_STATUS[rng.choice(4, n, p=[0.85, 0.06, 0.05, 0.04])]
            status = np.where(when > self.start_ts + day * DAY_S - 3 * DAY_S, "placed", status)
            zips = p["zip"][ec.person[owners]]
            elsewhere = rng.random(n) < 0.1
            zips = np.where(elsewhere, rng.integers(1001, 99950, n), zips)
            ship = [f"{z:05d}" for z in zips]
            home_abroad = (p["country"][ec.person[owners]] > 0) & ~elsewhere
            for i in np.where(home_abroad)[0]:
                ship[i] = self.pools.intl.postcodes[zips[i]]
            self._emit(
                emit,
                "ecommerce_orders",
                day,
                {
                    "order_id": self._new_keys("ecommerce_orders", n),
                    "customer_account_id": ec.keys.take(pa.array(owners)),
                    "order_ts": pa.array(when * us, pa.timestamp("us")),
                    "order_total": pa.array([f"{t:.2f}" for t in totals]).cast(
                        pa.decimal128(12, 2)
                    ),
                    "currency": pa.array(np.where(rng.random(n) < 0.96, "USD", "CAD").tolist()),
                    "status": pa.array(status.tolist()),
                    "ship_postal_code": pa.array(ship, pa.string()),
                },
            )

        owners, when = self._spread(
            "mobile_app", "mobile_app_events", ch.events_per_device_day, day, rng
        )
        if len(owners):
            n = len(owners)
            apps, ec = self.records["mobile_app"], self.records["ecommerce"]
            account_of = self._first_record("ecommerce")
            user = apps.person[owners].copy()
            family = (apps.extra[owners] & (1 << 21)) > 0
            for j in np.where(family)[0]:
                members = self.family_members[int(owners[j])]
                user[j] = members[rng.integers(0, len(members))]
            logged_in = (apps.present[owners, 0] | family) & (
                rng.random(n) < ch.logged_in_event_share
            )
            account = np.where(logged_in, account_of[user], -1)
            account_keys = (
                ec.keys.take(pa.array(np.maximum(account, 0)))
                if len(ec)
                else pa.nulls(n, pa.string())
            )
            account_keys = pc.if_else(
                pa.array(account >= 0), account_keys, pa.scalar(None, pa.string())
            )
            self._emit(
                emit,
                "mobile_app_events",
                day,
                {
                    "event_id": self._new_keys("mobile_app_events", n),
                    "device_id": apps.keys.take(pa.array(owners)),
                    "customer_account_id": account_keys,
                    "event_type": pa.array(
                        EVENT_TYPES[rng.choice(len(EVENT_TYPES), n, p=EVENT_P)].tolist()
                    ),
                    "event_ts": pa.array(when * us, pa.timestamp("us")),
                },
            )

        owners, when = self._spread("pos", "pos_transactions", ch.txns_per_card_day, day, rng)
        pos = self.records["pos"]
        n_card = len(owners)
        n_anon = (
            int(rng.binomial(max(1, n_card), ch.anonymous_pos_share / (1 - ch.anonymous_pos_share)))
            if n_card
            else 0
        )
        if n_card + n_anon:
            n = n_card + n_anon
            cards = pa.concat_arrays(
                [pos.keys.take(pa.array(owners)), pa.array([""] * n_anon, pa.string())]
            )
            anon_when = (when.min() if n_card else self.start_ts) + rng.integers(0, DAY_S, n_anon)
            stores = [f"S{(z // 10) % 900 + 100:03d}" for z in p["zip"][pos.person[owners]]] + [
                f"S{s:03d}" for s in rng.integers(100, 1000, n_anon)
            ]
            self._emit(
                emit,
                "pos_transactions",
                day,
                {
                    "transaction_id": self._new_keys("pos_transactions", n),
                    "card_number": cards,
                    "store_id": pa.array(stores),
                    "txn_ts": pa.array(np.concatenate([when, anon_when]) * us, pa.timestamp("us")),
                    "amount": pa.array(
                        [f"{a:.2f}" for a in np.round(rng.lognormal(3.2, 0.9, n), 2)]
                    ).cast(pa.decimal128(12, 2)),
                },
            )

        owners, when = self._spread("crm", "crm_tickets", ch.tickets_per_contact_day, day, rng)
        tickets = []
        if len(owners):
            n = len(owners)
            crm = self.records["crm"]
            closed_after = rng.exponential(1.5 * DAY_S, n).astype(np.int64)
            closed = when + closed_after
            is_closed = closed < self.start_ts + day * DAY_S + 3 * 3600
            csat = np.where(
                is_closed & (rng.random(n) < 0.4),
                rng.choice([1, 2, 3, 4, 5], n, p=[0.08, 0.07, 0.15, 0.3, 0.4]),
                -1,
            )
            tickets.append(
                pa.table(
                    {
                        "ticket_id": self._new_keys("crm_tickets", n),
                        "contact_id": crm.keys.take(pa.array(owners)),
                        "opened_at": pa.array(when * us, pa.timestamp("us")),
                        "closed_at": pa.array(
                            np.where(is_closed, closed, 0) * us, pa.timestamp("us"), mask=~is_closed
                        ),
                        "channel": pa.array(
                            CHANNELS[rng.choice(3, n, p=[0.6, 0.25, 0.15])].tolist()
                        ),
                        "category": pa.array(
                            TICKET_CATEGORIES[rng.integers(0, len(TICKET_CATEGORIES), n)].tolist()
                        ),
                        "status": pa.array(np.where(is_closed, "closed", "open").tolist()),
                        "csat_score": pa.array(csat, pa.int64(), mask=csat < 0),
                        "_close_at": pa.array(closed),
                    }
                )
            )
        # Tickets opened earlier close today: a full-row upsert of the ticket.
        still_open = []
        for t in self.open_tickets:
            due = np.asarray(t.column("_close_at")) < self.start_ts + day * DAY_S + 3 * 3600
            if due.any():
                closing = t.filter(pa.array(due))
                m = closing.num_rows
                closing = closing.set_column(
                    closing.schema.get_field_index("closed_at"),
                    "closed_at",
                    pa.array(np.asarray(closing.column("_close_at")) * us, pa.timestamp("us")),
                )
                closing = closing.set_column(
                    closing.schema.get_field_index("status"), "status", pa.array(["closed"] * m)
                )
                score = rng.choice([1, 2, 3, 4, 5], m, p=[0.08, 0.07, 0.15, 0.3, 0.4])
                closing = closing.set_column(
                    closing.schema.get_field_index("csat_score"),
                    "csat_score",
                    pa.array(score, pa.int64(), mask=rng.random(m) > 0.4),
                )
                tickets.append(closing)
            if (~due).any():
                still_open.append(t.filter(pa.array(~due)))
        self.open_tickets = still_open
        if tickets:
            all_t = pa.concat_tables(tickets)
            opened_now = all_t.filter(pc.equal(all_t.column("status"), "open"))
            if opened_now.num_rows:
                self.open_tickets.append(opened_now)
            self._emit(emit, "crm_tickets", day, all_t.drop_columns(["_close_at"]))

    def _privacy_requests(self, day: int, emit) -> None:
        rng = self.rng(day, "privacy")
        p = self.p
        n_people = len(p["pid"])
        k = int(rng.binomial(n_people, self.cfg.changes.privacy_request_rate))
        if not k:
            return
        who = rng.choice(n_people, k, replace=False)
        loyalty_of = self._first_record("loyalty")
        kinds = np.array(["erasure", "access", "opt_out_sale", "opt_in_sale"])[
            rng.choice(4, k, p=[0.3, 0.35, 0.28, 0.07])
        ]
        jur = np.where(rng.random(k) < 0.75, "CCPA", "GDPR")
        by = rng.random((k, 3))
        email = [
            e.upper() if r < 0.1 else e for e, r in zip(p["email"][who], by[:, 2], strict=True)
        ]
        loy = self.records["loyalty"]
        loyalty_ids = [
            loy.keys[loyalty_of[w]].as_py() if loyalty_of[w] >= 0 and b < 0.25 else None
            for w, b in zip(who, by[:, 1], strict=True)
        ]
        use_email = (by[:, 0] < 0.75) | np.array([x is None for x in loyalty_ids]) & (
            by[:, 0] >= 0.9
        )
        use_phone = (by[:, 0] >= 0.6) & (by[:, 0] < 0.9)
        phones = [f"+{c}{m:010d}" for c, m in zip(p["cc"][who], p["mobile"][who], strict=True)]
        ids = self._new_keys("privacy_requests", k)
        table = pa.table(
            {
                "request_id": ids,
                "request_type": pa.array(kinds.tolist()),
                "jurisdiction": pa.array(jur.tolist()),
                "subject_email": pa.array(
                    [e if u else None for e, u in zip(email, use_email, strict=True)], pa.string()
                ),
                "subject_phone": pa.array(
                    [ph if u else None for ph, u in zip(phones, use_phone, strict=True)],
                    pa.string(),
                ),
                "subject_loyalty_id": pa.array(loyalty_ids, pa.string()),
                "subject_customer_id": pa.nulls(k, pa.string()),
                "received_at": pa.array(
                    (self.start_ts + day * DAY_S - rng.integers(0, DAY_S, k)) * 1_000_000,
                    pa.timestamp("us"),
                ),
            }
        )
        self._emit(emit, "privacy_requests", day, table)
        for w, kind, rid in zip(who, kinds, ids.to_pylist(), strict=True):
            self.events.append(
                dict(
                    person=int(w),
                    day=day,
                    event=f"privacy_{kind}",
                    source_table="privacy_requests",
                    record=-1,
                    src=None,
                    key=rid,
                )
            )

    # -- truth -------------------------------------------------------------------
