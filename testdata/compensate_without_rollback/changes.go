package compensate_without_rollback

import (
	"context"
	"net/http"
)

//flamingock:change id=publish-flags order=1 target=flags compensate=true
func PublishFlags(ctx context.Context, c *http.Client) error { return nil }

//flamingock:change id=announce order=2 target=flags compensate=true
type Announce struct{}

func (Announce) Apply(ctx context.Context, c *http.Client) error { return nil }
