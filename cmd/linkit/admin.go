package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

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

func orgCommand(getenv func(string) string, stdout io.Writer) *cobra.Command {
	org := &cobra.Command{Use: "org", Short: "Manage organizations", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("%w: linkit org create --name NAME", errUsage)
		}}
	create := &cobra.Command{
		Use:   "create --name NAME [--id ID] [--region CC] [--json]",
		Short: "Create an organization and its first API key (shown once)",
		Args:  cobra.NoArgs,
	}
	cf := addConfigFlags(create, flagDatabase)
	fs := create.Flags()
	name := fs.String("name", "", "organization name (required)")
	id := fs.String("id", "", "organization id, e.g. org_123 (default: generated)")
	region := fs.String("region", "", "default phone region, ISO 3166-1 alpha-2 (e.g. US, SA)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	create.RunE = runE(func(cmd *cobra.Command, args []string) error {
		if strings.TrimSpace(*name) == "" {
			return fmt.Errorf("%w: --name is required", errUsage)
		}
		*region = strings.ToUpper(strings.TrimSpace(*region))
		if *region != "" && !dedupe.ValidRegion(*region) {
			return fmt.Errorf("%w: --region %q is not a known region code", errUsage, *region)
		}
		cfg, err := cf.config(cmd, getenv)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
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
	})
	org.AddCommand(create)
	return org
}

func keyCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	key := &cobra.Command{Use: "key", Short: "Create and revoke API keys", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("%w: linkit key create --org ID | linkit key revoke KEY_ID", errUsage)
		}}

	create := &cobra.Command{
		Use:   "create --org ID [--json]",
		Short: "Create an API key for an organization (shown once)",
		Args:  cobra.NoArgs,
	}
	createFlags := addConfigFlags(create, flagDatabase)
	orgID := create.Flags().String("org", "", "organization id (required)")
	asJSON := create.Flags().Bool("json", false, "print one JSON object")
	create.RunE = runE(func(cmd *cobra.Command, args []string) error {
		if *orgID == "" {
			return fmt.Errorf("%w: --org is required", errUsage)
		}
		cfg, err := createFlags.config(cmd, getenv)
		if err != nil {
			return err
		}
		s, err := postgres.Open(cmd.Context(), cfg.DatabaseURL, postgres.Options{MaxConns: 2})
		if err != nil {
			return err
		}
		defer s.Close()
		key, err := s.CreateAPIKey(cmd.Context(), *orgID)
		if err != nil {
			return err
		}
		return printKey(stdout, key, *asJSON)
	})

	revoke := &cobra.Command{
		Use:   "revoke KEY_ID",
		Short: "Revoke an API key; every API process refuses it at once",
		Args:  cobra.ExactArgs(1),
	}
	revokeFlags := addConfigFlags(revoke, flagDatabase|flagRedis)
	revoke.RunE = runE(func(cmd *cobra.Command, args []string) error {
		cfg, err := revokeFlags.config(cmd, getenv)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		s, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{MaxConns: 2})
		if err != nil {
			return err
		}
		defer s.Close()
		orgID, err := s.RevokeAPIKey(ctx, args[0])
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, "revoked", args[0])
		// The API processes cache verified keys; tell them now. Without
		// Redis the key still stops working when their cache expires.
		if err := announceOrgChange(ctx, cfg, orgID); err != nil {
			fmt.Fprintf(stderr, "warning: API processes not told (%v); they refuse the key within LINKIT_AUTH_CACHE_TTL\n", err)
		}
		return nil
	})
	key.AddCommand(create, revoke)
	return key
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
