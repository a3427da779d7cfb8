package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
)

// keyOutput is what org create and key create print with --json.
type keyOutput struct {
	OrganizationID string `json:"organization_id"`
	KeyID          string `json:"key_id"`
	APIKey         string `json:"api_key"`
}

func printKey(stdout io.Writer, key *customer.APIKey, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(stdout).Encode(keyOutput{key.OrganizationID, key.ID, key.Secret})
	}
	fmt.Fprintf(stdout, "organization: %s\nkey id:       %s\napi key:      %s\n(the api key is shown only once)\n",
		key.OrganizationID, key.ID, key.Secret)
	return nil
}

func orgCommand(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf("%w: linkit org create --name NAME [--id ID] [--region CC] [--json]", errUsage)
	}
	fs := cfg.flags("org create", stderr)
	name := fs.String("name", "", "organization name (required)")
	id := fs.String("id", "", "organization id, e.g. org_123 (default: generated)")
	region := fs.String("region", "", "default phone region, ISO 3166-1 alpha-2 (e.g. US, SA)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if strings.TrimSpace(*name) == "" {
		return fmt.Errorf("%w: --name is required", errUsage)
	}
	*region = strings.ToUpper(strings.TrimSpace(*region))
	if *region != "" && !dedupe.ValidRegion(*region) {
		return fmt.Errorf("%w: --region %q is not a known region code", errUsage, *region)
	}
	store, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{MaxConns: 2})
	if err != nil {
		return err
	}
	defer store.Close()
	o := &customer.Organization{ID: strings.TrimSpace(*id), Name: strings.TrimSpace(*name), DefaultRegion: *region}
	if err := store.CreateOrganization(ctx, o); err != nil {
		return err
	}
	key, err := store.CreateAPIKey(ctx, o.ID)
	if err != nil {
		return err
	}
	return printKey(stdout, key, *asJSON)
}

func keyCommand(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: linkit key create --org ID [--json] | linkit key revoke KEY_ID", errUsage)
	}
	store := func() (*postgres.Store, error) {
		return postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{MaxConns: 2})
	}
	switch args[0] {
	case "create":
		fs := cfg.flags("key create", stderr)
		orgID := fs.String("org", "", "organization id (required)")
		asJSON := fs.Bool("json", false, "print one JSON object")
		if err := fs.Parse(args[1:]); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if *orgID == "" {
			return fmt.Errorf("%w: --org is required", errUsage)
		}
		s, err := store()
		if err != nil {
			return err
		}
		defer s.Close()
		key, err := s.CreateAPIKey(ctx, *orgID)
		if err != nil {
			return err
		}
		return printKey(stdout, key, *asJSON)
	case "revoke":
		fs := cfg.flags("key revoke", stderr)
		if err := fs.Parse(args[1:]); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: linkit key revoke KEY_ID", errUsage)
		}
		s, err := store()
		if err != nil {
			return err
		}
		defer s.Close()
		orgID, err := s.RevokeAPIKey(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, "revoked", fs.Arg(0))
		// The API processes cache verified keys; tell them now. Without
		// Redis the key still stops working when their cache expires.
		if err := announceOrgChange(ctx, cfg, orgID); err != nil {
			fmt.Fprintf(stderr, "warning: API processes not told (%v); they refuse the key within LINKIT_AUTH_CACHE_TTL\n", err)
		}
		return nil
	default:
		return fmt.Errorf("%w: unknown key command %q", errUsage, args[0])
	}
}

// announceOrgChange tells every API process to drop orgID's cached keys.
func announceOrgChange(ctx context.Context, cfg config, orgID string) error {
	opt, err := queue.RedisOpt(cfg.RedisURL)
	if err != nil {
		return err
	}
	rdb := queue.NewRedis(opt)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return queue.PublishOrgChange(ctx, rdb, queue.Names{Namespace: cfg.QueueNamespace}, orgID)
}
