FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/cachewarm ./cmd/cachewarm

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* && useradd -r cachewarm
COPY --from=build /out/cachewarm /usr/local/bin/cachewarm
USER cachewarm
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/cachewarm"]
CMD ["worker"]
