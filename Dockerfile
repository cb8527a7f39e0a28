# Civico: a static binary on a minimal base, run as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The embedded FerretDB's SQLite is pure Go, so the binary is static.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/civico ./server

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/civico /civico
# The embedded database, its socket and its lock live here; mount a volume.
VOLUME ["/data"]
ENV CIVICO_ADDR=:8080 CIVICO_DATA=/data
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/civico"]
