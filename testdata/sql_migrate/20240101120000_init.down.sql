DROP FUNCTION touch();
DROP TABLE accounts;
