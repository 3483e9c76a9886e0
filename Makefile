# Cordon. Every target runs on Node.js >= 24; when the system's Node is older,
# scripts/ensure-node.sh installs Node 24 from the npm registry into a cache
# folder (~/.cache/cordon) and this Makefile puts it first on PATH.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

NODE_BIN := $(shell scripts/ensure-node.sh)
ifeq ($(NODE_BIN),)
$(error could not find or install Node.js 24; see scripts/ensure-node.sh)
endif
export PATH := $(NODE_BIN):$(PATH)
# Native addons (isolated-vm) build against this Node's headers, not the system's.
export npm_config_nodedir := $(abspath $(NODE_BIN)/..)
# isolated-vm requires --no-node-snapshot on Node >= 20.
NODE := node --no-node-snapshot

.PHONY: help setup run test lint typecheck policy-test unit bench images clean

help:
	@echo "make setup   install dependencies (Node 24 included, if needed)"
	@echo "make run     start cordon serve with the example config (cordon.yaml)"
	@echo "make test    lint, type-check and run every test suite"
	@echo "make bench   run the benchmarks; prints one JSON object"
	@echo "make images  build the container images offline (needs Docker and debootstrap)"

node_modules/.setup-stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

setup: node_modules/.setup-stamp

run: setup
	./bin/cordon serve --config cordon.yaml

lint: setup
	npx eslint --max-warnings 0 .

typecheck: setup
	npx tsc -p tsconfig.json

unit: setup
	@mkdir -p .cache
	npx vitest run --reporter=default --reporter=json --outputFile.json=.cache/vitest-report.json; \
	  status=$$?; node scripts/test-summary.mjs .cache/vitest-report.json; exit $$status

# The shipped policies' own tests (Cedar and egress) and sandbox profiles, as operators run them in their CI.
policy-test: setup
	./bin/cordon policy test policies
	./bin/cordon egress validate egress-policies
	./bin/cordon egress test egress-policies
	./bin/cordon sandboxes validate sandboxes

test: lint typecheck policy-test unit

# The egress bench compares against Debian's tinyproxy. When it is missing and we
# are root, install it quietly; otherwise the bench reports the peer metrics as
# null with egress_peer_error. stdout stays the one JSON object.
bench: setup
	@if ! command -v tinyproxy >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq tinyproxy >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq tinyproxy >/dev/null 2>&1; } || \
	    echo "bench: could not install tinyproxy with apt-get; the egress peer metrics will be null" >&2; \
	fi
	@$(NODE) bench/run.ts

# Container images from sandboxes/images/*.yaml: debootstrap from this machine's apt sources,
# imported into the Docker engine; cached by a hash of each recipe (a second run builds nothing).
images: setup
	./bin/cordon sandboxes build

clean:
	rm -rf node_modules
