# hpinn — the README's commands. Each one installs missing Debian packages
# (apt-get when run as root; otherwise it prints the exact apt-get line and
# stops), configures, builds, and then runs.
#
#   make run     build and run the default pipeline
#   make test    build and pass the whole test suite
#   make fuzz    build and run the config fuzzer for FUZZ_SECONDS (needs clang)
#   make asan    build and run the test suite under address+undefined sanitizers
#   make test-kernels  the suite once per OpenBLAS kernel this CPU can run (developers;
#                run it before resolving anything that touches numerics)

BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
# 64 KB inputs reach the loader's limits (aliases, 64 levels, 256 anchors);
# an input slower than FUZZ_TIMEOUT seconds or above FUZZ_RSS_MB is a finding.
FUZZ_MAX_LEN ?= 65536
FUZZ_TIMEOUT ?= 10
FUZZ_RSS_MB ?= 1024
JOBS ?= 2
CMAKE_FLAGS ?=

PACKAGES = build-essential cmake pkg-config libyaml-dev libopenblas-dev liblapacke-dev \
           libcmocka-dev libmatheval-dev libsuitesparse-dev gnuplot-nox libopenmpi-dev openmpi-bin
FUZZ_PACKAGES = clang libclang-rt-14-dev

.PHONY: all deps build run test test-kernels asan fuzz fuzz-deps bench clean

all: build

# Install what is missing; never touch what is there.
define ensure_packages
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "hpinn: installing missing packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "hpinn: missing Debian packages:$$missing"; \
	    echo "install them with:  sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi
endef

deps:
	$(call ensure_packages,$(PACKAGES))

fuzz-deps: deps
	$(call ensure_packages,$(FUZZ_PACKAGES))

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

run: build
	./$(BUILD)/bin/hpinn run configs/default.yaml --out runs/default --force && ./$(BUILD)/bin/hpinn plot runs/default
	@echo "outputs: runs/default/ (history.csv fields.csv nodes.csv summary.json); plots: runs/default/plots/*.png"
	@echo "for comparison, the plain PINN on the same budget (the same pipeline with --set coupling.tau2=0;"
	@echo "  a stored measurement of 2026-12-02 on 2 cores, docs/user-guide.md): relative L2 error 6.2e-5 in 54 s;"
	@echo "  the hybrid run above measured 3.1e-5 in 50 s then (its own numbers are printed above);"
	@echo "  over seeds 1-3 (hpinn sweep, docs/results.md): hybrid median 1.7e-5 [1.0e-5, 3.1e-5],"
	@echo "  plain PINN 2.3e-5 [1.4e-5, 6.2e-5]: the ranges overlap, the final gain is within the seed spread"

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

test-kernels: build
	bash tests/test_kernels.sh $(BUILD) $(KERNELS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHPINN_SANITIZE=ON -DHPINN_BUILD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS)

fuzz: fuzz-deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHPINN_BUILD_FUZZ=ON \
	  -DHPINN_BUILD_TESTS=OFF -DHPINN_BUILD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_config
	mkdir -p $(FUZZ_BUILD)/corpus
	./$(FUZZ_BUILD)/bin/fuzz_config -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) \
	  -timeout=$(FUZZ_TIMEOUT) -rss_limit_mb=$(FUZZ_RSS_MB) -dict=tests/fuzz/yaml.dict \
	  -artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_BUILD)/corpus tests/fuzz/corpus

bench: build
	cmake --build $(BUILD) -j$(JOBS) --target bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
