# Tracery in one container: OTLP on 4317 (gRPC) and 4318 (HTTP), UI and query API on 16686.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY ui ./ui
COPY proto ./proto
COPY docs ./docs
COPY bench/Cargo.toml ./bench/
# Tests, benches and the benchmark crate are not built here; empty stand-ins keep
# the workspace manifests valid.
RUN mkdir -p tests/it benches bench/src \
    && touch tests/it/main.rs benches/hot_paths.rs benches/red_metrics.rs bench/src/main.rs \
    && cargo build --release --locked --bin tracery \
    && cp target/release/tracery /usr/local/bin/tracery

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data tracery \
    && mkdir -p /data && chown tracery /data
COPY --from=build /usr/local/bin/tracery /usr/local/bin/tracery
USER tracery
ENV TRACERY_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 4317 4318 16686
ENTRYPOINT ["/usr/local/bin/tracery"]
