package function_form

import (
	"context"
	"log/slog"
	"net/http"
)

// Announce runs on a target without transactions; order 10 sorts after 2.
//
//flamingock:change id=announce order=10 target=events-api transactional=false rollback=Unannounce
func Announce(ctx context.Context, c *http.Client, log *slog.Logger) error {
	log.InfoContext(ctx, "announcing")
	return post(ctx, c, "announce")
}

// Unannounce undoes Announce; it takes no dependencies.
func Unannounce(ctx context.Context, c *http.Client) error {
	return post(ctx, c, "unannounce")
}

func post(ctx context.Context, c *http.Client, what string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:0/"+what, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
