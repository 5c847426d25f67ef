package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func (a *app) demoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo [--tenants N]",
		Short: "The whole story on one machine",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("not yet")
		},
	}
}
