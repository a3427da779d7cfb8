# The linkit binary in a distroless image, run as a non-root user.
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t linkit .
# (.git is not sent to the build, so the version comes in as an argument; `make image` does this.)
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/linkit ./cmd/linkit

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/linkit /linkit
# distroless' nonroot user, by number so that runtimes enforcing runAsNonRoot can check it.
USER 65532:65532
EXPOSE 8080
# /healthz of the process in this container: LINKIT_WORKER_HTTP_ADDR for `work`, else LINKIT_HTTP_ADDR.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/linkit", "health", "--timeout", "3s"]
ENTRYPOINT ["/linkit"]
CMD ["all"]
