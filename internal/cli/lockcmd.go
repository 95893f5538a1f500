package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/flamingock/flamingock-go/audit"
)

func (c *cli) lockStatus(g *globals, fs *flag.FlagSet) func(context.Context, []string) error {
	asJSON := fs.Bool("json", false, "print JSON (see the package documentation for the shape)")
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usagef("lock status takes no arguments, got %q", args)
		}
		s, err := c.open(ctx, g, readOnly)
		if err != nil {
			return err
		}
		defer c.close(s)
		l, err := s.Lock(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.stdout, struct {
				Store string   `json:"store"`
				Lock  lockJSON `json:"lock"`
			}{s.Name(), toLockJSON(l)})
		}
		t := newTable(c.stdout)
		t.row("lock:", l.Key)
		t.row("state:", lockState(l))
		t.row("epoch:", fmt.Sprint(l.Epoch))
		t.row("store time:", when(l.Now))
		forced := "never"
		if l.ReleasedBy != "" {
			forced = fmt.Sprintf("by %s at %s", l.ReleasedBy, when(l.ReleasedAt))
		}
		t.row("forced release:", forced)
		return t.flush()
	}
}

func (c *cli) lockRelease(g *globals, fs *flag.FlagSet) func(context.Context, []string) error {
	force := fs.Bool("force", false, "required: release the lock whoever holds it")
	operatorFlag := fs.String("operator", "", "who releases it, recorded in the lock (default user@host)")
	asJSON := fs.Bool("json", false, "print JSON (see the package documentation for the shape)")
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usagef("lock release takes no arguments, got %q", args)
		}
		if !*force {
			return usagef("lock release needs --force: a runner that still holds the lock would then run alongside the next one; make sure it is gone (stopped or crashed) first")
		}
		operator, err := c.operator(*operatorFlag, isSet(fs, "operator"))
		if err != nil {
			return err
		}
		s, err := c.open(ctx, g, readWrite)
		if err != nil {
			return err
		}
		defer c.close(s)
		before, after, err := s.ForceRelease(ctx, operator)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.stdout, struct {
				Store    string   `json:"store"`
				Released lockJSON `json:"released"`
				Lock     lockJSON `json:"lock"`
			}{s.Name(), toLockJSON(before), toLockJSON(after)})
		}
		fmt.Fprintf(c.stdout, "%s; recorded as released by %s at %s\n", released(before), operator, when(before.Now))
		return nil
	}
}

// released says what a forced release of the lock before released.
func released(before audit.LockInfo) string {
	switch {
	case before.Held():
		return fmt.Sprintf("released lock %q held by runner %s (epoch %d, lease until %s): that runner can record nothing more, and the next run takes the lock",
			before.Key, before.Owner, before.Epoch, when(before.ExpiresAt))
	case before.Owner != "":
		return fmt.Sprintf("released lock %q: the lease of runner %s (epoch %d) had expired at %s", before.Key, before.Owner, before.Epoch, when(before.ExpiresAt))
	}
	return fmt.Sprintf("lock %q was already free", before.Key)
}
