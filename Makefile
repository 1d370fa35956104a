# The one test command (README, .ci/run): formatting, vet, staticcheck and
# every test with the race detector. Tools are fetched pinned by `go run`.
GO            ?= go
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOFILES        = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './_*')

.PHONY: test fmt-check vet staticcheck gotest build bench

test: fmt-check vet staticcheck gotest

build:
	$(GO) build ./...

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

gotest:
	$(GO) test -race -count=1 -timeout 12m ./...

# Benchmarks print figures beside a bare baseline; not part of `make test`.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./...
