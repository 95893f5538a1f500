package yaml_checks

//flamingock:yaml target=appdb
