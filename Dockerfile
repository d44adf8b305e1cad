# Multi-stage build of the `people` binary. SQLite and libpq are compiled in (bundled), so the runtime image
# needs only libc and CA certificates.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p people-server \
 && strip target/release/people

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /data people
COPY --from=build /src/target/release/people /usr/local/bin/people
USER people
WORKDIR /data
ENV MB_JETTY_HOST=0.0.0.0 \
    MB_JETTY_PORT=3000 \
    MB_DB_CONNECTION_URI=sqlite:/data/people.db
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/3000"]
ENTRYPOINT ["people"]
CMD ["serve"]
