package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/tools/auth"
)

// EnvClientSecret names the environment variable serve reads the secret of
// --auth-client-id from (unless --auth-client-secret-file is given): a
// secret on the command line would show in ps and shell histories.
const EnvClientSecret = "MCP_SYNC_AUTH_CLIENT_SECRET"

// maxSecretFile bounds --auth-client-secret-file.
const maxSecretFile = 64 << 10

// authEnv is what applying serve's OAuth flags needs besides the flags.
type authEnv struct {
	token, httpAddr string // --token (or $MCP_SYNC_TOKEN) and --http
	getenv          func(string) string
	logger          *slog.Logger
}

// addAuthFlags adds serve's OAuth flags to fs; apply, called after
// parsing, sets Options.Auth when --auth-issuer is given. Its error is a
// usage error and never holds the client secret.
func addAuthFlags(fs *flag.FlagSet) (apply func(o *tools.HTTPOptions, opts *tools.Options, e authEnv) error) {
	issuer := fs.String("auth-issuer", "", "accept OAuth access tokens (JWTs) issued by the authorization server at `URL` "+
		"(its iss); requires --resource, excludes --token")
	resource := fs.String("resource", "", "this server's resource `URL` with OAuth, the address clients reach its MCP endpoint at "+
		"(https://mcp.example.com/mcp): tokens must name it in aud")
	var scopes originList
	fs.Var(&scopes, "auth-scopes", "`SCOPES` every access token must hold (comma-separated or repeated); a token without one gets 403")
	introspection := fs.String("auth-introspection", "", "check opaque (non-JWT) access tokens at the issuer's introspection endpoint `URL` "+
		"(RFC 7662), as this server's --auth-client-id")
	clientID := fs.String("auth-client-id", "", "this server's client `ID` at the issuer, for --auth-introspection; "+
		"its secret is read from $"+EnvClientSecret+" or --auth-client-secret-file")
	secretFile := fs.String("auth-client-secret-file", "", "read the secret of --auth-client-id from `FILE` instead of $"+EnvClientSecret)
	return func(o *tools.HTTPOptions, opts *tools.Options, e authEnv) error {
		if *issuer == "" {
			if *resource != "" || len(scopes) > 0 || *introspection != "" || *clientID != "" || *secretFile != "" {
				return errors.New("--resource, --auth-scopes, --auth-introspection and --auth-client-id go with --auth-issuer")
			}
			return nil
		}
		switch {
		case e.httpAddr == "":
			return errors.New("--auth-issuer protects HTTP: add --http ADDR (stdio serves the local user)")
		case *resource == "":
			return errors.New("--auth-issuer needs --resource URL, the address clients reach this server's MCP endpoint at (tokens must name it)")
		case e.token != "":
			return errors.New("--auth-issuer and --token (or $MCP_SYNC_TOKEN) exclude each other: a request carries one bearer token")
		case *introspection == "" && (*clientID != "" || *secretFile != ""):
			return errors.New("--auth-client-id and --auth-client-secret-file go with --auth-introspection")
		}
		cfg := auth.Config{Issuer: *issuer, Resource: *resource, Scopes: scopes, Logger: e.logger}
		if *introspection != "" {
			secret, err := clientSecret(*clientID, *secretFile, e.getenv)
			if err != nil {
				return err
			}
			cfg.Introspection = &auth.Introspection{URL: *introspection, ClientID: *clientID, ClientSecret: secret}
		}
		v, err := auth.New(cfg)
		if err != nil {
			return err
		}
		opts.Auth = v
		o.InsecureNoToken = true // every request needs an access token instead
		return nil
	}
}

// clientSecret returns the secret of the client id, from file if given,
// else from $MCP_SYNC_AUTH_CLIENT_SECRET; "" without an id.
func clientSecret(id, file string, getenv func(string) string) (string, error) {
	env := getenv(EnvClientSecret)
	switch {
	case id == "" && (file != "" || env != ""):
		return "", fmt.Errorf("a client secret (--auth-client-secret-file or $%s) needs --auth-client-id", EnvClientSecret)
	case id == "":
		return "", nil
	case file == "" && env == "":
		return "", fmt.Errorf("--auth-client-id %s needs its secret: set $%s or give --auth-client-secret-file", id, EnvClientSecret)
	case file == "":
		return env, nil
	case env != "":
		return "", fmt.Errorf("--auth-client-secret-file and $%s both give the client secret: keep one", EnvClientSecret)
	}
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("--auth-client-secret-file: %w", err)
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("--auth-client-secret-file: reading %s: %w", file, err)
	case len(b) > maxSecretFile:
		return "", fmt.Errorf("--auth-client-secret-file: %s is over %d KiB; it should hold the secret alone", file, maxSecretFile>>10)
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" || strings.ContainsAny(secret, "\r\n") {
		return "", fmt.Errorf("--auth-client-secret-file: %s should hold the secret alone, on one line", file)
	}
	return secret, nil
}
