package mongo

import "testing"

func TestLocatorURL(t *testing.T) {
	tests := []struct {
		name, uri, database, want string
	}{
		{"the URI's own database", "mongodb://alice:s3cret@h1:27017,h2:27017/app?replicaSet=rs0", "app",
			"mongodb://alice:xxxxx@h1:27017,h2:27017/app?replicaSet=rs0"},
		{"the default database of a URI without a path", "mongodb://h:27017", DefaultDatabase, "mongodb://h:27017"},
		{"the default database of a URI with an empty path", "mongodb://h:27017/?replicaSet=rs0", DefaultDatabase, "mongodb://h:27017/?replicaSet=rs0"},
		{"WithDatabase replaces the path", "mongodb://h1,h2/app?replicaSet=rs0", "billing", "mongodb://h1,h2/billing?replicaSet=rs0"},
		{"WithDatabase gives a URI without a path one", "mongodb+srv://cluster.example.com", "billing", "mongodb+srv://cluster.example.com/billing"},
		{"the path stays the authentication database of a user", "mongodb://alice:s3cret@h/admin?tls=true", "billing",
			"mongodb://alice:xxxxx@h/billing?tls=true&authSource=admin"},
		{"a user authenticates against admin without a path", "mongodb://alice:s3cret@h", "billing", "mongodb://alice:xxxxx@h/billing?authSource=admin"},
		{"an authSource is kept as it is", "mongodb://alice:s3cret@h/app?authSource=users", "billing", "mongodb://alice:xxxxx@h/billing?authSource=users"},
		{"a database name is escaped", "mongodb://h/app", "a b", "mongodb://h/a%20b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := parseURI(tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			if got := locatorURL(srv, tt.database); got != tt.want {
				t.Errorf("locatorURL(%q, %q) = %q, want %q", tt.uri, tt.database, got, tt.want)
			}
		})
	}
}
