# confine in a container for CI stages. Thin on purpose: it runs the same ci/ scripts.
# Build: docker build -t confine .   (the build step is ci/build, the script CI runs)
# Run it with its own cgroup namespace and write access to it:
#   docker run --rm --privileged --cgroupns=private -v "$PWD:/src" -w /src confine run --profile k8s-512mi -- make test
FROM swift:6.0-bookworm AS build
WORKDIR /confine
COPY . .
RUN cp "$(ci/build)" /usr/local/bin/confine

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libseccomp2 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/confine /usr/local/bin/confine
COPY --from=build /confine/profiles /usr/local/share/confine/profiles
COPY --from=build /confine/Sources/ConfinePython /usr/local/share/confine/python
ENTRYPOINT ["/usr/local/bin/confine"]
# Without --privileged/--cgroupns=private confine cannot create cgroups: `confine doctor` says
# what is missing and how to fix it, and `confine run` exits 125 with a report naming the step.
