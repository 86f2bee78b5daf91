"""What the app's tests and its browser tests share: a small generated data
set through the pipeline, accounts, and finding test subjects in the marts."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from c360 import pipeline
from c360.app import auth
from c360.tools.generator.config import GeneratorConfig
from c360.tools.generator.core import generate
from tests.support.warehouse_files import query, release_dbt_connection

# Day 0 and one change day: enough review-band pairs across customers.
CUSTOMERS, DAYS, SEED = 800, 1, 21
FIRST_DAY = "2025-01-01"
# Test accounts only: the app has no default account.
ANALYST = ("ann", "analyst", "analyst-password-1")
STEWARD = ("stu", "steward", "steward-password-1")


def generate_small(out: Path) -> Path:
    generate(
        GeneratorConfig(customers=CUSTOMERS, days=DAYS, seed=SEED, chunk_size=CUSTOMERS),
        out,
        progress=False,
    )
    return out


def copy_landing(generated: Path, target: Path, *, through: str | None = None) -> Path:
    """The generated landing zone, or its partitions up to a date."""
    for partition in sorted((generated / "landing").glob("*/dt=*")):
        if through is None or partition.name.removeprefix("dt=") <= through:
            shutil.copytree(partition, target / partition.parent.name / partition.name)
    return target


def add_later_days(generated: Path, landing: Path) -> None:
    for partition in sorted((generated / "landing").glob("*/dt=*")):
        destination = landing / partition.parent.name / partition.name
        if not destination.exists():
            shutil.copytree(partition, destination)


def run_pipeline(landing: Path, warehouse: Path) -> Path:
    pipeline.run(landing, warehouse, quiet=True)
    # dbt keeps its connection to the file open in this process: the app
    # (and other tests) open their own.
    release_dbt_connection()
    return warehouse


def write_users(path: Path) -> Path:
    for name, role, password in (ANALYST, STEWARD):
        auth.add_user(path, name, role, password)
    return path


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def login(client, user: tuple[str, str, str]) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": user[0], "password": user[2], "csrf": token, "next": "/search"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def customer_with_own_email(warehouse: Path) -> dict:
    """A customer of several records whose golden email only they hold: its
    address, and what an analyst sees of it."""
    rows = query(
        warehouse,
        """select customers.customer_id, tokens.pii_value as email
        from marts.dim_customer as customers
        inner join vault.vault_pii_tokens as tokens on tokens.token = customers.email_token
        where customers.record_count >= 2 and tokens.pii_value not like '%@gmail.com'
          and (select count(distinct xref.customer_id) from vault.vault_identity_pii as pii
               inner join marts.customer_source_xref as xref
                 on xref.source_table = pii.source_table
                 and xref.source_record_id = pii.source_record_id
               where pii.email_normalized = tokens.pii_value) = 1
        order by customers.source_count desc, customers.order_count desc, customers.customer_id
        limit 1""",
    )
    customer_id, email = rows[0]
    local, _, domain = email.partition("@")
    return {"customer_id": customer_id, "email": email, "masked": f"{local[0]}***@{domain}"}


def cross_customer_review_pair(warehouse: Path) -> dict:
    """The open review pair of most impact whose records are two customers."""
    rows = query(
        warehouse,
        """select review_item_id, record_key_a, record_key_b, customer_id_a, customer_id_b
        from marts.identity_review_queue
        where item_type = 'pair' and not is_same_customer
        order by impact_rank limit 1""",
    )
    return dict(
        zip(
            ("review_item_id", "record_key_a", "record_key_b", "customer_id_a", "customer_id_b"),
            rows[0],
            strict=True,
        )
    )
