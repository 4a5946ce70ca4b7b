# Haven container image.
#   docker build -t haven .
#   docker run --rm -p 127.0.0.1:8080:8080 -e HAVEN_DEMO=true haven
# The default database is a SQLite file in /var/lib/haven (mount a volume there
# to keep it); set DATABASE_URL=postgres://... to use PostgreSQL instead.

# ---- builder ---------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /src

# A plain full build: robust against any layout of Cargo targets (benches,
# build scripts, migrations embedded at compile time). Cargo.lock must be
# committed (--locked).
COPY . .
RUN cargo build --release --locked \
    && strip target/release/haven

# ---- runtime ---------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 haven \
    && useradd --system --uid 10001 --gid haven --home-dir /var/lib/haven \
        --no-create-home --shell /usr/sbin/nologin haven \
    && mkdir -p /var/lib/haven \
    && chown haven:haven /var/lib/haven

COPY --from=builder /src/target/release/haven /usr/local/bin/haven

WORKDIR /var/lib/haven
EXPOSE 8080
ENV HAVEN_ADDR=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///var/lib/haven/haven.db
USER haven

# `haven healthcheck` exits 0 when GET http://$HAVEN_ADDR/readyz answers 200.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 \
    CMD ["haven", "healthcheck"]

ENTRYPOINT ["haven"]
CMD ["serve"]
