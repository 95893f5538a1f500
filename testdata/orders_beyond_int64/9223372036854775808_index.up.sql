CREATE INDEX networks_name ON networks (name);
