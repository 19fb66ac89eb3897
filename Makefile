# Thin wrappers: the scripts and the `kesah` command do the work.
.PHONY: up test test-fast bench bench-smoke rehearsal rehearsal-small image lock lock-checkov

up:
	@scripts/bootstrap
	@scripts/ensure-services run
	.venv/bin/kesah up

# Every test on SQLite stores, then the end-to-end tests again with every
# store on PostgreSQL (one database per store, made and dropped per test;
# recovery drill 1 with 250 complaints there instead of 500, for CI's time).
POSTGRES_AGAIN = tests/e2e

test:
	@scripts/bootstrap
	@scripts/bootstrap-checkov
	@scripts/ensure-services test
	.venv/bin/pytest
	.venv/bin/pytest tests/scale
	KESAH_TEST_STORES=postgres KESAH_DRILL_COMPLAINTS=250 .venv/bin/pytest $(POSTGRES_AGAIN)

# Unit and contract tests only: seconds, no processes.
test-fast:
	@scripts/bootstrap
	.venv/bin/pytest tests/unit tests/contract

# Benchmarks (docs/performance.md): every figure beside a raw baseline measured
# in the same run; the table is printed and the JSON written to bench/results/.
bench:
	@scripts/bootstrap
	@scripts/ensure-services test
	.venv/bin/python -m bench

# The same cases at a tiny size (tests/bench runs it in `make test`).
bench-smoke:
	@scripts/bootstrap
	@scripts/ensure-services test
	.venv/bin/python -m bench --smoke --out var/bench/results

# Production rehearsal (docs/runbook.md): real infrastructure broken under load,
# a table of complaints accepted, visible, lost, duplicated and stall seconds.
rehearsal: image
	@scripts/bootstrap
	@scripts/ensure-services test
	.venv/bin/python -m rehearsal --image

rehearsal-small:
	@scripts/bootstrap
	@scripts/ensure-services test
	.venv/bin/python -m rehearsal --small

# The Dockerfile's image built here, with no registry: a debootstrap base (made once) and podman,
# both from Debian's packages; as root. The full rehearsal runs the system from it.
image:
	scripts/build-image

# Regenerate requirements.lock from what pyproject.toml asks for.
lock:
	rm -rf /tmp/kesah-lock && python3 -m venv /tmp/kesah-lock
	/tmp/kesah-lock/bin/pip install --quiet '.[test]'
	/tmp/kesah-lock/bin/pip freeze --exclude kesah-etam > requirements.lock
	rm -rf build

# Regenerate requirements-checkov.lock (checkov's own environment, .venv-checkov).
lock-checkov:
	rm -rf /tmp/kesah-checkov && python3 -m venv /tmp/kesah-checkov
	/tmp/kesah-checkov/bin/pip install --quiet checkov
	/tmp/kesah-checkov/bin/pip freeze > requirements-checkov.lock
