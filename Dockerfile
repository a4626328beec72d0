# Tracery in one container: OTLP on 4317 (gRPC) and 4318 (HTTP), UI and query API on
# 16686, Jaeger's gRPC query API on 16685, Prometheus /metrics and health checks on
# 14269; Jaeger's and Zipkin's ingest ports (14250, 14268, 6831-6832/udp, 9411) and
# remote sampling (5778, 5779).
#
#   docker build -t tracery .        (add --network host where the daemon has no bridge)
#
# Plain Dockerfile syntax (no BuildKit mounts), so the legacy builder builds it too.

FROM rust:1-slim-bookworm AS build
# make: tikv-jemalloc-sys builds jemalloc with its own configure and make.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# 1. Dependencies, in a layer of their own: built against stand-in sources, so a
#    change to Tracery's code reuses this layer instead of recompiling every crate.
COPY Cargo.toml Cargo.lock ./
COPY bench/Cargo.toml ./bench/
RUN mkdir -p src bench/src tests/it benches ui \
    && echo 'fn main() {}' > build.rs \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > bench/src/main.rs \
    && touch src/lib.rs tests/it/main.rs benches/hot_paths.rs benches/red_metrics.rs \
    && cargo build --profile dist --locked --bin tracery \
    && rm -rf src build.rs ui
# 2. Tracery itself. `touch` makes Cargo rebuild the crate even though the copied
#    files are older than the stand-ins' build.
COPY build.rs ./
COPY proto ./proto
COPY ui ./ui
COPY docs ./docs
COPY src ./src
RUN touch build.rs src/main.rs src/lib.rs \
    && cargo build --profile dist --locked --bin tracery \
    && cp target/dist/tracery /usr/local/bin/tracery \
    && mkdir /data

# Runtime: glibc, libgcc and CA certificates, no shell; about 23 MB before Tracery.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/tracery /usr/local/bin/tracery
COPY --from=build --chown=65532:65532 /data /data
USER 65532:65532
ENV TRACERY_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 4317 4318 16686 16685 14269 14250 14268 6831/udp 6832/udp 9411 5778 5779
# Probes /health/ready on the admin port (TRACERY_ADMIN_ADDR); no curl needed.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/tracery", "healthcheck"]
# Exec form: Tracery is PID 1 and gets SIGTERM itself, which flushes every
# acknowledged span before it exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/tracery"]
