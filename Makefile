# people: common tasks. `make test` is what .ci/run runs (plus `make lint`).
CARGO ?= cargo
PEOPLE_TEST_POSTGRES_URL ?=

.PHONY: run test lint fmt bench bench-compare docker

## Run the server on the embedded SQLite default (people.db in this directory).
run:
	$(CARGO) run --release

## Run every test (SQLite always; PostgreSQL too when PEOPLE_TEST_POSTGRES_URL is set).
test:
	$(CARGO) test --workspace

## Formatting and lints, as CI checks them.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Load benchmark (needs wrk; for PostgreSQL also psql and a server on 127.0.0.1:5432):
## release build, throwaway database, scenarios a-e, req/s and p50/p99. BACKEND=sqlite for SQLite;
## BENCH_ARGS="--scenarios storm" or "--users 1000000 --scenarios c" for the other measurements.
BACKEND ?= postgres
BENCH_ARGS ?=
bench:
	$(CARGO) build --release
	BACKEND=$(BACKEND) python3 bench/bench.py $(BENCH_ARGS)

## The shared harness: people beside the FastAPI peer on the same PostgreSQL, with ratios.
bench-compare:
	$(CARGO) build --release
	python3 ../shared/bench/compare.py --candidate-cmd 'env RUST_LOG=warn $(CURDIR)/target/release/people' --repeat 3

## Build the container image used by docker-compose.yml.
docker:
	docker build -t people:latest .
