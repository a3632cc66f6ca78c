# A thin layer over the CMake presets. `make run` and `make test` are the two commands
# in the README: each installs missing Debian packages first, then builds.
PRESET ?= release
ARGS ?=
JOBS ?= $(shell nproc)
# ccache keys on paths relative to the checkout, so a fresh clone reuses earlier objects.
export CCACHE_BASEDIR := $(CURDIR)

.PHONY: all deps build run test test-deps test-asan test-tsan loadtest clean

all: build

deps:
	@scripts/install-deps.sh build

build: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS)

run: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS) --target nodus
	./build/$(PRESET)/app/nodus $(ARGS)

test-deps:
	@scripts/install-deps.sh test
	@if [ -f tests/js/package-lock.json ]; then cd tests/js && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error; fi

test: test-deps build
	@ctest --preset $(PRESET) -j $(JOBS)

test-asan:
	@$(MAKE) test PRESET=asan

test-tsan:
	@$(MAKE) test PRESET=tsan

loadtest:
	@scripts/install-deps.sh loadtest
	@loadtest/run.sh $(ARGS)

clean:
	rm -rf build
