CREATE TABLE huge (id int);
