package goname

import "testing"

func TestFieldMakesExportedIdentifiers(t *testing.T) {
	for id, want := range map[string]string{
		"appdb":      "Appdb",
		"app-db":     "AppDb",
		"app.db_v2":  "AppDbV2",
		"kafkaMain":  "KafkaMain",
		"1db":        "T1db",
		"0.x":        "T0X",
		"events-api": "EventsApi",
		"é-db":       "ÉDb",
	} {
		if got := Field(id); got != want {
			t.Errorf("Field(%q) = %q, want %q", id, got, want)
		}
	}
}
