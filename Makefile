# The team's daily verbs. Every target sets up .venv first, so each works on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PYTHONPATH := lambda_src:.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: setup demo plan scan history activity test test-trino trino test-unit test-integration test-infra lint bench bench-history bench-latency synth cdk-synth diff deploy destroy docs schema format clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .  # connect-exporter on the venv's PATH
	touch $@

demo: setup  ## one snapshot of a simulated 1,500-agent contact center into out/demo, with a summary
	$(BIN)/python -m simulator demo --out out/demo

plan: setup  ## connect-exporter plan on the demo center: fit, custom metrics and monthly cost
	$(BIN)/python -m simulator plan

history: setup  ## three hours of a moving center in out/history, two of them compacted, then queries over the view
	rm -rf out/history  # a fresh span: an older run's minutes would mix two different histories
	$(BIN)/python -m simulator history --minutes 180 --out out/history
	$(BIN)/python -m local_athena compact --lake out/history --until "$$($(BIN)/python -c 'import datetime as d; print((d.datetime.now(d.timezone.utc) - d.timedelta(hours=1)).isoformat())')"
	$(BIN)/python -m local_athena query --lake out/history --sql "$$(cat docs/tiers.sql)"
	$(BIN)/python -m local_athena query --lake out/history --name status-minutes-per-agent-per-day --rows 5
	$(BIN)/python -m local_athena query --lake out/history --name zero-available-slot-minutes-per-day --rows 8

test: setup  ## the offline suite, no Java: unit, integration, infrastructure
	$(BIN)/python -m pytest -n 4 --dist loadfile --durations=10 tests/unit tests/integration tests/infrastructure

# Athena engine v3 is Trino: the stack's catalog, state machine and named queries on a real one (Java 25).
TRINO_VERSION := 476
TRINO_HOME    := .trino/trino-server-$(TRINO_VERSION)
TRINO_JAVA    ?= /usr/lib/jvm/temurin-25-jdk-amd64/bin/java

trino: $(TRINO_HOME)/.installed  ## io.trino:trino-server from Maven Central into .trino/, Hive and Iceberg plugins only

$(TRINO_HOME)/.installed:
	command -v mvn >/dev/null || { apt-get update -qq && apt-get install -y -qq maven >/dev/null; }
	test -x $(TRINO_JAVA) || { echo "error: Trino $(TRINO_VERSION) needs Java 24+ at $(TRINO_JAVA) (set TRINO_JAVA)"; exit 2; }
	mkdir -p .trino
	mvn -q -B dependency:copy -Dartifact=io.trino:trino-server:$(TRINO_VERSION):tar.gz -DoutputDirectory=.trino
	rm -rf $(TRINO_HOME) && tar -xzf .trino/trino-server-$(TRINO_VERSION).tar.gz -C .trino
	find $(TRINO_HOME)/plugin -mindepth 1 -maxdepth 1 ! -name hive ! -name iceberg -exec rm -rf {} +
	rm .trino/trino-server-$(TRINO_VERSION).tar.gz
	touch $@

test-trino: setup trino  ## the Trino suite: every state-machine statement and named query on Trino, answers equal DuckDB's
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-trino.txt
	TRINO_JAVA=$(TRINO_JAVA) $(BIN)/python -m pytest -p no:logging --durations=10 tests/trino

test-unit: setup
	$(BIN)/python -m pytest tests/unit

test-integration: setup
	$(BIN)/python -m pytest -n 4 --dist loadfile tests/integration

test-infra: setup
	$(BIN)/python -m pytest tests/infrastructure

PY_SOURCES := lambda_src simulator benchmarks local_athena lake_sql infra tests docs app.py

lint: setup scan  ## ruff (bugs, imports, pyupgrade, simplify, complexity) and its format, mypy, the config schema, the scanners
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	$(BIN)/mypy
	$(BIN)/connect-exporter schema | diff -q - config/config.schema.json || { echo "error: run make schema"; exit 1; }

format: setup  ## ruff's import sorting and fixes, then ruff format (what make lint checks)
	$(BIN)/ruff check --fix $(PY_SOURCES)
	$(BIN)/ruff format $(PY_SOURCES)

SCAN := .venv-scan
$(SCAN)/.installed: requirements-scan.txt
	$(PYTHON) -m venv $(SCAN)
	$(SCAN)/bin/pip install --quiet --disable-pip-version-check -r requirements-scan.txt
	npm install --silent --no-save --prefix $(SCAN)/node asl-validator@3.16.0
	touch $@

# The stack synthesized with the default config and with "encryption": "kms": cdk-nag's AwsSolutions and
# Serverless packs fail synth on any unanswered finding, then checkov fails on any check not skipped with a reason,
# and asl-validator (npm) checks the compaction state machine.
scan: setup $(SCAN)/.installed  ## cdk-nag (AwsSolutions, Serverless) and checkov on the default, KMS and alarms-in-seconds templates
	rm -rf cdk.out/scan && mkdir -p cdk.out/scan
	$(BIN)/python -c "import json; c = json.load(open('config/example.json')); c['deployment']['encryption'] = 'kms'; json.dump(c, open('cdk.out/scan/kms.json', 'w'))"
	CDK_OUTDIR=cdk.out/scan/default CDK_CONTEXT_JSON='{"config": "config/example.json"}' $(BIN)/python app.py
	CDK_OUTDIR=cdk.out/scan/kms CDK_CONTEXT_JSON='{"config": "cdk.out/scan/kms.json"}' $(BIN)/python app.py
	CDK_OUTDIR=cdk.out/scan/seconds CDK_CONTEXT_JSON='{"config": "config/alarms-in-seconds.json"}' $(BIN)/python app.py
	$(SCAN)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
		-f cdk.out/scan/default/ConnectUserDataExporter.template.json -f cdk.out/scan/kms/ConnectUserDataExporter.template.json \
		-f cdk.out/scan/seconds/ConnectUserDataExporter.template.json
	# The compaction state machine as Step Functions' language defines it (intrinsics included); tokens read as aws.
	$(BIN)/python -c "import json, sys; from tests.infrastructure.statemachine import definition; \
		print(json.dumps(definition(json.load(open(sys.argv[1])))).replace('arn:REF:', 'arn:aws:'))" \
		cdk.out/scan/default/ConnectUserDataExporter.template.json > cdk.out/scan/statemachine.json
	$(SCAN)/node/node_modules/.bin/asl-validator --json-path cdk.out/scan/statemachine.json

activity: history  ## agent activity on the make-history lake: time in status, occupancy, and docs/activity-*.png
	$(BIN)/python -m local_athena query --lake out/history --name time-in-status-per-agent-per-day --rows 10
	$(BIN)/python -m local_athena query --lake out/history --name occupancy-per-routing-profile-per-interval --rows 8
	$(BIN)/python -m local_athena pictures --lake out/history --out docs

bench: setup  ## minutes: the CLI at the default quota, 1k-10k agents; writes docs/benchmarks.md and .png
	$(BIN)/python -m benchmarks snapshot

bench-latency: setup  ## ~30 minutes: slot change to EMF datapoint at 60/15/10 s sampling, 500 and 2,000 agents; docs/benchmarks-latency.md
	$(BIN)/python -m benchmarks latency

docs: setup  ## the README's record-column table, rendered from lambda_src/connect_exporter/schema.py
	$(BIN)/python docs/columns.py

bench-history: setup trino  ## ~20 minutes: a day of 1,000 agents, raw against history; bytes on Trino; docs/benchmarks-history.md, -trino.md
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-trino.txt
	$(BIN)/python -m benchmarks history
	TRINO_JAVA=$(TRINO_JAVA) $(BIN)/python -m benchmarks trino

clean:
	rm -rf $(VENV) $(SCAN) .trino out cdk.out .pytest_cache .hypothesis .mypy_cache .ruff_cache

synth: setup  ## synthesize the stack offline into cdk.out (CONFIG=path picks the config)
	CDK_OUTDIR=cdk.out CDK_CONTEXT_JSON='{"config": "$(CONFIG)"}' $(BIN)/python app.py

schema: setup  ## config/config.schema.json from the config models (a test holds the two equal)
	$(BIN)/connect-exporter schema > config/config.schema.json

# Deploy verbs: the CDK CLI pinned in package.json / package-lock.json (npm ci), the config validated first.
# CONFIG=path picks the config, PROFILE=name the AWS profile (default: the environment's credentials).
CONFIG  ?= config/example.json
CDK     := node_modules/.bin/cdk
CDK_ARGS = -c config=$(CONFIG) $(if $(PROFILE),--profile $(PROFILE))

$(CDK): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

cdk-synth: setup $(CDK)  ## the pinned CDK CLI synthesizes CONFIG's stack offline (what deploy runs first; CI runs it)
	$(CDK) synth -q $(CDK_ARGS) -o cdk.out/cli

diff: setup $(CDK)  ## cdk diff of CONFIG's stack against the deployed one (offline it gets as far as synth)
	$(BIN)/connect-exporter validate --config $(CONFIG)
	$(CDK) diff $(CDK_ARGS)

deploy: setup $(CDK)  ## cdk deploy of CONFIG's stack with PROFILE's credentials (asks before widening IAM)
	$(BIN)/connect-exporter validate --config $(CONFIG)
	$(CDK) deploy $(CDK_ARGS)

destroy: setup $(CDK)  ## cdk destroy of CONFIG's stack (retain_data keeps the bucket and the Glue tables)
	$(CDK) destroy $(CDK_ARGS)
