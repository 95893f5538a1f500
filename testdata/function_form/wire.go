package function_form

import (
	"database/sql"
	"log/slog"
	"net/http"

	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// NewStage wires the generated Stage the way an application does. It refers
// to names that only flamingock_gen.go declares: a stale or missing
// generated file must not stop its own regeneration.
func NewStage(appdb pipeline.Target[*sql.Tx], log *slog.Logger) pipeline.Stage {
	return Stage(Targets{
		Appdb:     appdb,
		EventsApi: pipeline.NonTransactional(http.DefaultClient),
	}, Deps{Logger: log, Config: Config{Admin: "root"}})
}
