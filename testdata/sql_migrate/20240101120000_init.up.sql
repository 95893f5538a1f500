CREATE TABLE accounts (id bigint PRIMARY KEY, note text DEFAULT 'x;y');
CREATE FUNCTION touch() RETURNS trigger AS $$
BEGIN
  NEW.note := 'touched';
  RETURN NEW;
END;
$$ LANGUAGE plpgsql
