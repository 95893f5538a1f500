package audit_test

import (
	"strings"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
)

func TestResolutionsHideThePasswordOfTheStore(t *testing.T) {
	for _, store := range []string{
		"postgres://ops:pa#ss?w0rd@db/app",
		"postgres://ops@db/app?sslmode=disable&password=pa#ss?w0rd",
		"host=db user=ops password='pa#ss?w0rd' dbname=app",
		"mongodb://ops:pa%23ss%3Fw0rd@db/app",
	} {
		for _, r := range audit.Resolutions("c1", "--store", store, "--schema", "ops") {
			if strings.Contains(r.Command, "w0rd") || !strings.Contains(r.Command, "xxxxx") {
				t.Errorf("Resolutions for --store %s: %s shows the password", store, r.Command)
			}
			if !strings.HasSuffix(r.Command, " --schema ops") {
				t.Errorf("Resolutions for --store %s: %s lost the other flags", store, r.Command)
			}
		}
	}
}
