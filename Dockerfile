# The controller image: `make image`, or `docker build -t <image> .`.

FROM swift:6.2-bookworm AS build
# libcurl is the HTTP client of the Kubernetes and Prometheus clients: its headers from Debian, the library itself
# built for HTTP and HTTPS only and linked in statically with OpenSSL, nghttp2 and zlib (scripts/build-curl.sh, as
# `make bench-scale` does). The rest match the Makefile's build packages.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libcurl4-openssl-dev libssl-dev libnghttp2-dev zlib1g-dev libyaml-dev pkg-config curl ca-certificates make gcc \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY scripts/build-curl.sh ./scripts/
RUN sh scripts/build-curl.sh /opt/curl

# The manifest alone first, so the dependency checkouts stay cached until Package.swift (or Package.resolved) changes.
COPY Package.* ./
RUN swift package resolve

COPY Sources ./Sources
COPY scripts/symbol-order.txt ./scripts/
# SwiftPM checks every target's directory, test targets included, even when building one product; the tests stay out of
# the build context (.dockerignore), so their targets get empty directories.
RUN tr '\n' ' ' < Package.swift | grep -oE 'testTarget\( *name: *"[^"]+"' | cut -d'"' -f2 | xargs -r -I{} mkdir -p Tests/{}
# The Swift runtime and Foundation linked in, so the runtime image needs no Swift toolchain; lld packs the relative
# relocations (DT_RELR), which the loader would otherwise read, 2 MiB of them, at every start, and places the functions
# the controller runs first (scripts/symbol-order.txt), so that they share few pages. As `make bench-scale`.
RUN PKG_CONFIG_PATH=/opt/curl/lib/pkgconfig swift build -c release --product inference-autoscaler --static-swift-stdlib \
        -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs \
        -Xswiftc -Xfrontend -Xswiftc -function-sections \
        -Xlinker --symbol-ordering-file=/build/scripts/symbol-order.txt -Xlinker --no-warn-symbol-ordering \
    && mkdir /staging \
    && cp "$(swift build -c release --show-bin-path)/inference-autoscaler" /staging/

FROM debian:bookworm-slim
# The binary needs no shared library beyond the base image's (libc, libstdc++); CA certificates for Prometheus over
# HTTPS. Time zone data is not needed: Foundation carries ICU's.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# The uid/gid the Deployment's securityContext runs as.
RUN groupadd --system --gid 65532 nonroot \
    && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin nonroot
COPY --from=build /staging/inference-autoscaler /usr/local/bin/inference-autoscaler
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/inference-autoscaler"]
CMD ["run"]
