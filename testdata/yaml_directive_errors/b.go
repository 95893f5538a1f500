package yaml_directive_errors

//flamingock:yaml target=other

// flamingock:yaml target=appdb

//flamingock:yaml handle=mongo
