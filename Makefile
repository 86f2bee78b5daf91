# Two commands on a fresh machine with only python3:  make demo  /  make test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DIR ?= data/demo
DEMO_CUSTOMERS ?= 20000
DEMO_DAYS ?= 3

.PHONY: demo test lint bench soak dbt-build clean venv dagster java-check docs

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/c360 demo --customers $(DEMO_CUSTOMERS) --days $(DEMO_DAYS) --out $(DEMO_DIR)

# The Dagster UI (http://localhost:3000) over the demo's landing zone, with a
# warehouse of its own: launch (or backfill) daily partitions from 2025-01-01.
DAGSTER_PORT ?= 3000
dagster: $(STAMP)
	test -d $(DEMO_DIR)/landing || $(BIN)/c360 generate --customers $(DEMO_CUSTOMERS) \
		--days $(DEMO_DAYS) --out $(DEMO_DIR)
	mkdir -p data/dagster_home
	test -f data/dagster_home/dagster.yaml || cp orchestration/dagster.yaml data/dagster_home/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/data/dagster_home C360_LANDING=$(DEMO_DIR)/landing \
		C360_WAREHOUSE=$(DEMO_DIR)/dagster.duckdb C360_TRUTH=$(DEMO_DIR)/truth \
		$(BIN)/dagster dev -m orchestration.definitions -p $(DAGSTER_PORT)

# The Customer 360 app (docs/app.md) on http://127.0.0.1:UI_PORT over the demo's
# warehouse (`make demo`), with accuracy against its truth. It needs an account:
# none is made for you, so no default password exists.
.PHONY: ui
UI_PORT ?= 8360
UI_USERS ?= $(DEMO_DIR)/c360_users
ui: $(STAMP)
	@test -f $(DEMO_DIR)/warehouse.duckdb || { \
		echo "make ui: no warehouse at $(DEMO_DIR)/warehouse.duckdb: run make demo first" >&2; exit 1; }
	@test -s $(UI_USERS) || { \
		echo "make ui: no accounts in $(UI_USERS). Add one (it asks for a password):" >&2; \
		echo "  $(BIN)/c360 users add NAME --role steward --users $(UI_USERS)" >&2; \
		echo "  (--role analyst sees PII masked; docs/app.md)" >&2; exit 1; }
	$(BIN)/c360 serve --warehouse $(DEMO_DIR)/warehouse.duckdb --users $(UI_USERS) \
		--truth $(DEMO_DIR)/truth --port $(UI_PORT)

# The tests run the project on Spark too (tests/spark): pyspark and dbt-spark
# come with the spark extra, and Spark needs Java 17 or newer, which pip
# cannot install. .ci/run installs it on a fresh machine.
SPARK_STAMP := $(VENV)/.installed-spark
JAVA_HINT := Java 17 or newer is needed for Spark (tests/spark, make bench). On Debian or Ubuntu, as root: apt-get install -y openjdk-17-jre-headless

$(SPARK_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark]'
	touch $(SPARK_STAMP)

java-check:
	@v=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1); \
	if [ -z "$$v" ] || [ "$$v" -lt 17 ]; then \
		found="no java on PATH"; [ -z "$$v" ] || found="Java $$v, too old"; \
		echo "make $(or $(MAKECMDGOALS),test): found $$found. $(JAVA_HINT)" >&2; exit 1; fi

# pytest exits 5 when it collects no tests: that is not a failure of the suite.
test: $(SPARK_STAMP) java-check
	$(BIN)/python -m pytest -n 2 --dist loadfile tests; rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi

lint: $(STAMP)
	$(BIN)/ruff check c360 orchestration splink_models tests
	$(BIN)/ruff format --check c360 orchestration splink_models tests
	$(BIN)/lint-imports --no-cache
	$(BIN)/sqlfluff lint --processes 2 models macros snapshots data_tests

# The dbt docs site in target/: models, columns, lineage from the sources to
# the marts, and the exposures that read them (models/marts/_exposures.yml).
# Column types come from DOCS_WAREHOUSE when it exists (`make demo` builds the
# default): dbt only reads it, or a copy under target/ while another process
# holds the file. Without one, an empty catalog over a scratch warehouse.
# `make docs DOCS_SERVE=1` then serves the site on 127.0.0.1:DOCS_PORT.
DOCS_WAREHOUSE ?= $(DEMO_DIR)/warehouse.duckdb
DOCS_PORT ?= 8080
DOCS_SCRATCH := target/docs_warehouse
DOCS_DBT := $(BIN)/dbt docs generate --project-dir . --profiles-dir . --target dev --static

docs: $(STAMP)
	rm -rf $(DOCS_SCRATCH) && mkdir -p $(DOCS_SCRATCH)
	@export C360_DUCKDB_TEMP_DIRECTORY=$(CURDIR)/$(DOCS_SCRATCH)/tmp; \
	if [ -f "$(DOCS_WAREHOUSE)" ]; then \
		warehouse="$(DOCS_WAREHOUSE)"; \
		if ! $(BIN)/python -c 'import duckdb, sys; duckdb.connect(sys.argv[1]).close()' \
			"$$warehouse" 2>/dev/null; then \
			echo "docs: $$warehouse is in use: reading a copy"; \
			cp "$$warehouse" $(DOCS_SCRATCH)/warehouse.duckdb || exit 1; \
			warehouse=$(DOCS_SCRATCH)/warehouse.duckdb; fi; \
		echo "docs: catalog from $$warehouse"; \
		C360_WAREHOUSE="$$warehouse" $(DOCS_DBT); \
	else \
		echo "docs: no warehouse at $(DOCS_WAREHOUSE): empty catalog (no column types)"; \
		C360_WAREHOUSE=$(DOCS_SCRATCH)/warehouse.duckdb $(DOCS_DBT) --empty-catalog; \
	fi; \
	status=$$?; rm -rf $(DOCS_SCRATCH); exit $$status
	@echo "docs: the site is $(CURDIR)/target/ (index.html, manifest.json, catalog.json);"
	@echo "docs: target/static_index.html is all of it in one file, to open without a server"
	@if [ -n "$(DOCS_SERVE)" ]; then \
		echo "docs: serving target/ on http://127.0.0.1:$(DOCS_PORT) (Ctrl-C stops)"; \
		$(BIN)/dbt docs serve --project-dir . --profiles-dir . --port $(DOCS_PORT) \
			--host 127.0.0.1 --no-browser; \
	else echo "docs: make docs DOCS_SERVE=1 serves it on http://127.0.0.1:$(DOCS_PORT)"; fi

BENCH_CUSTOMERS ?= 1000000
BENCH_DAYS ?= 1
# The pipeline over day 0 and the change days, then the plain Splink baseline
# over day 0, for each N of a space-separated list ("100000 1000000");
# BENCH_PIPELINE_CUSTOMERS=0 skips it. Then docs/benchmarks.md's pipeline
# section and docs/benchmarks_stages.png are regenerated from bench_out/results.jsonl.
BENCH_PIPELINE_CUSTOMERS ?= 100000 200000 1000000
BENCH_PIPELINE_DAYS ?= 1
# The engines the pipeline runs on, each over its own copy of the same landing
# (docs/benchmarks.md "The engines on the same landing"); "duckdb" alone skips Spark.
BENCH_ENGINES ?= duckdb spark
# Match quality of the pipeline and of the plain Splink baseline on each
# generator profile, at one size; BENCH_QUALITY_CUSTOMERS=0 skips it.
BENCH_QUALITY_CUSTOMERS ?= 20000
BENCH_QUALITY_PROFILES ?= default hard names_dob
BENCH_STAMP := $(VENV)/.installed-bench

# The chart needs matplotlib, which the dev extra holds (its tests run in make test).
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) $(SPARK_STAMP) java-check
	$(BIN)/python -m c360.tools.bench --customers $(BENCH_CUSTOMERS) --days $(BENCH_DAYS)
	for n in $(BENCH_PIPELINE_CUSTOMERS); do \
		test "$$n" = 0 || $(BIN)/python -m c360.tools.bench --pipeline \
			--customers $$n --days $(BENCH_PIPELINE_DAYS) --engines $(BENCH_ENGINES) \
			--out bench_out/pipeline || exit 1; \
	done
	test "$(BENCH_QUALITY_CUSTOMERS)" = 0 || $(BIN)/python -m c360.tools.bench \
		--profiles $(BENCH_QUALITY_PROFILES) --customers $(BENCH_QUALITY_CUSTOMERS)
	$(BIN)/python -m c360.tools.bench_report

# A month of daily runs at 20k customers with steward decisions, erasures and
# a key rotation along the way, every invariant checked after every day
# (c360/tools/soak.py; docs/benchmarks.md, "Soak"). A benchmark: not part of
# `make test` nor of CI. It exits non-zero naming any invariant that failed.
SOAK_CUSTOMERS ?= 20000
SOAK_DAYS ?= 30
SOAK_DIR ?= data/soak

soak: $(STAMP)
	$(BIN)/python -m c360.tools.soak --customers $(SOAK_CUSTOMERS) --days $(SOAK_DAYS) \
		--out $(SOAK_DIR)

clean:
	rm -rf data target logs bench_out .pytest_cache
