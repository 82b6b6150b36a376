# Thin wrapper around meson so that the two documented commands work on a
# fresh Debian machine:  `make demo`  and  `make check`.
PREFIX ?= /usr/local
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps demo check check-unit check-asan install clean bench

all: $(BUILD)/safemount

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX) -Dwerror=true

$(BUILD)/safemount: $(BUILD)/build.ninja FORCE
	ninja -C $(BUILD)

FORCE:

deps:
	@scripts/install-deps.sh

demo: deps all
	@scripts/demo.sh $(BUILD)/safemount

# Every test (unit and integration on real FUSE mounts), then the
# integration suite again under ASan+UBSan.  The last line is the summary.
check: deps all
	@scripts/run-tests.sh $(BUILD) $(ASAN_BUILD)

check-unit: deps all
	meson test -C $(BUILD) --suite unit

# The benchmark (root; see bench/README.md).  BENCH_QUICK=1 for a short run.
bench: all
	SAFEMOUNT="$${SAFEMOUNT:-$(abspath $(BUILD))/safemount}" bench/run.sh

install: all
	meson configure $(BUILD) --prefix=$(PREFIX)
	meson install -C $(BUILD)
	scripts/create-sandbox-user.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
