# confine in a container for CI stages. Thin on purpose: it runs the same ci/ scripts.
# Run it with its own cgroup namespace and write access to it:
#   docker run --rm --privileged --cgroupns=private -v "$PWD:/src" -w /src confine run --profile k8s-512mi -- make test
FROM swift:6.0-bookworm AS build
WORKDIR /confine
COPY . .
RUN ci/setup build && swift build -c release --static-swift-stdlib

FROM debian:bookworm-slim
COPY --from=build /confine/.build/release/confine /usr/local/bin/confine
COPY --from=build /confine/profiles /usr/local/share/confine/profiles
COPY --from=build /confine/Sources/ConfinePython /usr/local/share/confine/python
ENTRYPOINT ["/usr/local/bin/confine"]
