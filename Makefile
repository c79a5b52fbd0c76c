# Entry points. `make run` and `make test` work on a fresh Debian 12
# machine: both install what is missing first (scripts/install-deps.sh).
BUILD ?= build
ASAN_BUILD ?= build/asan
DATA_DIR ?= ./var
LISTEN ?= 127.0.0.1:8080
JOBS ?= $(shell nproc)

.PHONY: all deps build run test test-dev test-asan asan bench format check-format clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD)

run: build
	$(BUILD)/bin/hbrd --data-dir $(DATA_DIR) --listen $(LISTEN)

# The whole suite twice: the normal build, then ASan+UBSan.
test: deps test-dev test-asan

test-dev: build
	scripts/check-format.sh
	scripts/check-deps.sh
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

$(ASAN_BUILD)/build.ninja:
	CC=clang cmake -S . -B $(ASAN_BUILD) -G Ninja \
		-DCMAKE_BUILD_TYPE=Debug -DHBR_SANITIZE=ON

asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD)

test-asan: asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j$(JOBS)

bench: build
	scripts/install-deps.sh --bench
	bench/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	scripts/check-format.sh

clean:
	rm -rf $(BUILD)
