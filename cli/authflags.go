package cli

import (
	"errors"
	"flag"

	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/tools/auth"
)

// addAuthFlags adds serve's OAuth flags to fs; apply, called after
// parsing with the --token and --http values, sets Options.Auth when
// --auth-issuer is given. Its error is a usage error.
func addAuthFlags(fs *flag.FlagSet) (apply func(o *tools.HTTPOptions, opts *tools.Options, token, httpAddr string) error) {
	issuer := fs.String("auth-issuer", "", "accept OAuth access tokens (JWTs) issued by the authorization server at `URL` "+
		"(its iss); requires --resource, excludes --token")
	resource := fs.String("resource", "", "this server's resource `URL` with OAuth, the address clients reach its MCP endpoint at "+
		"(https://mcp.example.com/mcp): tokens must name it in aud")
	var scopes originList
	fs.Var(&scopes, "auth-scopes", "`SCOPES` every access token must hold (comma-separated or repeated); a token without one gets 403")
	return func(o *tools.HTTPOptions, opts *tools.Options, token, httpAddr string) error {
		if *issuer == "" {
			if *resource != "" || len(scopes) > 0 {
				return errors.New("--resource and --auth-scopes go with --auth-issuer")
			}
			return nil
		}
		switch {
		case httpAddr == "":
			return errors.New("--auth-issuer protects HTTP: add --http ADDR (stdio serves the local user)")
		case *resource == "":
			return errors.New("--auth-issuer needs --resource URL, the address clients reach this server's MCP endpoint at (tokens must name it)")
		case token != "":
			return errors.New("--auth-issuer and --token (or $MCP_SYNC_TOKEN) exclude each other: a request carries one bearer token")
		}
		v, err := auth.New(auth.Config{Issuer: *issuer, Resource: *resource, Scopes: scopes})
		if err != nil {
			return err
		}
		opts.Auth = v
		o.InsecureNoToken = true // every request needs an access token instead
		return nil
	}
}
