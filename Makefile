# Outpost: the two commands a newcomer needs are `make run` and `make test` (see README.md).
SHELL := /bin/bash
BUN := node_modules/.bin/bun
VITEST := $(BUN) --bun node_modules/.bin/vitest
NATIVE := native/build/Release/outpost_native.node

.PHONY: setup deps native test unit interop bench fuzz run typecheck clean

# npm packages (pinned by package-lock.json) and the apt packages the tests use as real peers.
setup: deps
	bash scripts/install-test-deps.sh
	$(MAKE) native

deps: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	bash scripts/install-test-deps.sh --build-only
	npm ci --no-audit --no-fund
	@touch $@

# The C data-plane addon; `npx` passes npm's nodedir so node-gyp finds headers offline.
native: $(NATIVE)

$(NATIVE): native/binding.gyp $(wildcard native/src/*.c native/src/*.h) node_modules/.installed
	cd native && npx node-gyp rebuild

# Every suite: unit, codec vectors, fuzz, interop with strongSwan in network namespaces.
test: setup
	@mkdir -p build
	bash scripts/run-tests.sh

# Only the unit and vector suites (no root, no namespaces needed).
unit: deps native
	$(VITEST) run firmware cloud test/vectors test/fuzz

# strongSwan against Outpost in network namespaces (root).
interop: setup
	$(VITEST) run test/interop

bench: setup
	$(BUN) test/bench/handshakes.ts
	$(BUN) test/bench/esp-crypto.ts
	$(BUN) test/bench/tunnel-throughput.ts

# Long fuzz runs: ≥ 1M packets against a running gateway, ≥ 10M codec inputs (make test runs short versions).
fuzz: deps
	$(BUN) test/fuzz/gateway-fuzz.ts --packets 1000000
	$(BUN) test/fuzz/codec-fuzz-long.ts --inputs 10000000

typecheck: deps
	node_modules/.bin/tsc -p . --noEmit

run: deps native
	$(BUN) scripts/dev-run.ts

clean:
	rm -rf build node_modules .outpost native/build
