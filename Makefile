# The two commands a new user runs: `make test` and (with its issue) `make demo`.
# Both install what is missing first: CI runs them on a fresh clone of a fresh Debian machine, as root.

SWIFT ?= swift
APT_PACKAGES := libcurl4-openssl-dev libssl-dev libyaml-dev pkg-config ca-certificates openssl curl prometheus
BINARY := inference-autoscaler

.PHONY: deps test build validate-samples bench-decisions clean

# Installs the apt packages the build and the tests need, only when one is missing (one `apt-get update` first).
deps:
	@missing=""; \
	for pkg in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v $(SWIFT) >/dev/null || { echo "swift not found: install Swift 6 (https://www.swift.org/install/linux/)"; exit 1; }

test: deps
	$(SWIFT) test

build: deps
	$(SWIFT) build -c release --product $(BINARY)
	@echo "built $$($(SWIFT) build -c release --show-bin-path)/$(BINARY)"

# Runs `validate` on the shipped samples.
validate-samples: build
	"$$($(SWIFT) build -c release --show-bin-path)/$(BINARY)" validate config/samples

# Decision quality on every shared trace: our policies and the baselines, into bench/results/decisions.md (+ charts).
TRACES ?= ../shared/traces
bench-decisions: deps
	$(SWIFT) build -c release --product decision-bench
	"$$($(SWIFT) build -c release --show-bin-path)/decision-bench" --traces $(TRACES) --out bench/results

clean:
	rm -rf .build
