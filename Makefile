# people: common tasks. `make test` is what .ci/run runs (plus `make lint`).
CARGO ?= cargo
PEOPLE_TEST_POSTGRES_URL ?=

.PHONY: run test test-all lint fmt bench docker

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

## Benchmark against the FastAPI peer with the shared harness (needs wrk, psql and PostgreSQL on 127.0.0.1).
bench:
	$(CARGO) build --release
	python3 ../shared/bench/compare.py --candidate-cmd 'RUST_LOG=warn $(CURDIR)/target/release/people'

## Build the container image used by docker-compose.yml.
docker:
	docker build -t people:latest .
