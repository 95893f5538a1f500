package compensate

import (
	"context"
	"net/http"
)

// A change on a system without transactions that can undo a partial
// effect asks for its rollback to run right after a failure.
//
//flamingock:change id=publish-flags order=1 target=flags rollback=UnpublishFlags compensate=true
func PublishFlags(ctx context.Context, c *http.Client) error { return nil }

func UnpublishFlags(ctx context.Context, c *http.Client) error { return nil }

// An undo for RollbackTo only: a failure leaves it FAILED.
//
//flamingock:change id=drop-legacy order=2 target=flags rollback=RestoreLegacy
func DropLegacy(ctx context.Context, c *http.Client) error { return nil }

func RestoreLegacy(ctx context.Context, c *http.Client) error { return nil }
