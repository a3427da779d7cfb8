FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/linkit ./cmd/linkit

FROM gcr.io/distroless/static-debian12
COPY --from=build /out/linkit /linkit
EXPOSE 8080
ENTRYPOINT ["/linkit"]
CMD ["all"]
