# A thin layer over the CMake presets. `make run` and `make test` are the two commands
# in the README: each installs missing Debian packages first, then builds.
PRESET ?= release
ARGS ?=
JOBS ?= $(shell nproc)
# ccache keys on paths relative to the checkout, so a fresh clone reuses earlier objects.
export CCACHE_BASEDIR := $(CURDIR)

.PHONY: all deps build run test test-deps heap-asan test-asan test-tsan loadtest clean

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
	@$(MAKE) --no-print-directory heap-asan

# The managed heap's suite (incl. the model-based property test, fewer seeds) under
# AddressSanitizer + UBSan: memory errors in a GC hide easily, so CI runs this too.
heap-asan:
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS) --target heap_test
	@NODUS_TEST_SCALE=small ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ./build/asan/tests/runtime/heap/heap_test

test-asan:
	@$(MAKE) test PRESET=asan

test-tsan:
	@$(MAKE) test PRESET=tsan

loadtest:
	@scripts/install-deps.sh loadtest
	@loadtest/run.sh $(ARGS)

clean:
	rm -rf build
