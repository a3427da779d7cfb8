// The command tree (cobra): every command's flags, help and usage errors.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// runError carries an error a command's own code returned, so run can tell
// it from cobra's (an unknown flag or command: usage, exit 2).
type runError struct{ err error }

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

// runE marks the errors of a command's body.
func runE(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := f(cmd, args); err != nil {
			return &runError{err}
		}
		return nil
	}
}

// run is the whole program; main only wires the process to it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	root := newRootCommand(getenv, stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return nil
	}
	var re *runError
	if errors.As(err, &re) {
		err = re.err
		var bad *envError
		if !errors.Is(err, errUsage) || errors.As(err, &bad) {
			return err
		}
	} else if !errors.Is(err, errUsage) {
		err = fmt.Errorf("%w: %v", errUsage, err)
	}
	// A usage mistake: say how the command is used, on stderr.
	fmt.Fprint(stderr, cmd.UsageString())
	return err
}

func newRootCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "linkit",
		Short: "One clean record per real customer",
		Long: `linkit — one clean record per real customer.

Configuration comes from LINKIT_* environment variables (see the README); a
bad value is an error naming the variable (exit 2). Flags such as
--database-url, --redis-url and --addr override them.`,
		Version:       version,
		SilenceErrors: true, // main prints the error once
		SilenceUsage:  true, // run prints usage for usage mistakes only
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("%w: missing command", errUsage)
		},
	}
	root.SetOut(stdout) // before the completion command, which keeps it
	root.SetErr(stderr)
	root.SetVersionTemplate("linkit {{.Version}}\n")
	// Cobra answers a bad flag with a plain error; it is a usage mistake.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%w: %v", errUsage, err)
	})

	root.AddCommand(
		serviceCommand("all", "Run the HTTP API and the workers (migrates first)", roles{api: true, worker: true, migrate: true}, getenv, stderr),
		serviceCommand("serve", "Run the HTTP API", roles{api: true}, getenv, stderr),
		serviceCommand("work", "Run the workers (scale these)", roles{worker: true}, getenv, stderr),
		migrateCommand(getenv, stdout),
		orgCommand(getenv, stdout),
		keyCommand(getenv, stdout, stderr),
		importCommand(getenv, stdout, stderr),
		healthCommand(getenv, stdout),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version stamped at build",
			Args:  cobra.NoArgs,
			Run: func(cmd *cobra.Command, args []string) {
				fmt.Fprintln(stdout, "linkit", version)
			},
		},
	)
	// The completion command (cobra's) would answer an unknown shell with
	// its help and exit 0.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return fmt.Errorf("%w: completion needs a shell: bash, zsh, fish or powershell", errUsage)
				}
				return fmt.Errorf("%w: no completion for shell %q: bash, zsh, fish or powershell", errUsage, args[0])
			}
		}
	}
	return root
}

// configFlags are the configuration flags a command takes; each overrides
// its variable. Their defaults are not printed: a URL may hold a password.
type configFlags struct {
	databaseURL, redisURL, addr string
	concurrency                 int
}

// Which of the configuration flags a command takes.
const (
	flagDatabase = 1 << iota
	flagRedis
	flagAddr
	flagConcurrency
)

func addConfigFlags(cmd *cobra.Command, which int) *configFlags {
	cf := &configFlags{}
	fs := cmd.Flags()
	if which&flagDatabase != 0 {
		fs.StringVar(&cf.databaseURL, "database-url", "", "PostgreSQL URL (default $LINKIT_DATABASE_URL, else postgres://localhost:5432/linkit)")
	}
	if which&flagRedis != 0 {
		fs.StringVar(&cf.redisURL, "redis-url", "", "Redis URL (default $LINKIT_REDIS_URL, else redis://localhost:6379/0)")
	}
	if which&flagAddr != 0 {
		fs.StringVar(&cf.addr, "addr", "", "HTTP listen address (default $LINKIT_HTTP_ADDR, else :8080)")
	}
	if which&flagConcurrency != 0 {
		fs.IntVar(&cf.concurrency, "concurrency", 0, "worker goroutines (default $LINKIT_WORKER_CONCURRENCY, else 16)")
	}
	return cf
}

// config reads the environment, then applies the flags given.
func (cf *configFlags) config(cmd *cobra.Command, getenv func(string) string) (config, error) {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return cfg, err
	}
	fs := cmd.Flags()
	if fs.Changed("database-url") {
		cfg.DatabaseURL = cf.databaseURL
	}
	if fs.Changed("redis-url") {
		cfg.RedisURL = cf.redisURL
	}
	if fs.Changed("addr") {
		cfg.HTTPAddr = cf.addr
	}
	if fs.Changed("concurrency") {
		if cf.concurrency < 1 {
			return cfg, fmt.Errorf("%w: --concurrency must be at least 1", errUsage)
		}
		cfg.WorkerConcurrency = cf.concurrency
	}
	return cfg, nil
}

func serviceCommand(name, short string, r roles, getenv func(string) string, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: name, Short: short, Args: cobra.NoArgs}
	which := flagDatabase | flagRedis
	if r.api {
		which |= flagAddr
	}
	if r.worker {
		which |= flagConcurrency
	}
	cf := addConfigFlags(cmd, which)
	cmd.RunE = runE(func(cmd *cobra.Command, args []string) error {
		cfg, err := cf.config(cmd, getenv)
		if err != nil {
			return err
		}
		return serve(cmd.Context(), cfg, r, stderr)
	})
	return cmd
}

func migrateCommand(getenv func(string) string, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create the database if the role may, and apply migrations",
		Long: `Create the database if the role may, and apply migrations (to
LINKIT_MIGRATE_DATABASE_URL when set, else the service's database).`,
		Args: cobra.NoArgs,
	}
	cf := addConfigFlags(cmd, flagDatabase)
	cmd.RunE = runE(func(cmd *cobra.Command, args []string) error {
		cfg, err := cf.config(cmd, getenv)
		if err != nil {
			return err
		}
		return migrate(cmd.Context(), cfg, stdout)
	})
	return cmd
}
