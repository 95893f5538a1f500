--
-- PostgreSQL database dump
--

\restrict 2XKCzI30TEgb26Nso1SI5NJJ73ja9SA5vrMyvTKnzSkNzZvdAnyYNeYfDKAqqA2

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: flamingock_layout1_fixture; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA flamingock_layout1_fixture;


--
-- Name: flamingock_void_checkpoints(); Type: FUNCTION; Schema: flamingock_layout1_fixture; Owner: -
--

CREATE FUNCTION flamingock_layout1_fixture.flamingock_void_checkpoints() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		-- max(seq) is read from the end of the primary key's index, whatever
		-- the table's statistics: an EXISTS (seq > NEW.seq) planned while the
		-- table was small scans it, and every append would read the trail.
		IF NEW.seq >= (SELECT max(seq) FROM "flamingock_layout1_fixture"."flamingock_audit") THEN
			RETURN NULL;
		END IF;
	END IF;
	DELETE FROM "flamingock_layout1_fixture"."flamingock_checkpoint";
	RETURN NULL;
END
$$;


--
-- Name: FUNCTION flamingock_void_checkpoints(); Type: COMMENT; Schema: flamingock_layout1_fixture; Owner: -
--

COMMENT ON FUNCTION flamingock_layout1_fixture.flamingock_void_checkpoints() IS 'flamingock-go: an edit of the audit trail voids its checkpoints; do not drop';


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: flamingock_audit; Type: TABLE; Schema: flamingock_layout1_fixture; Owner: -
--

CREATE TABLE flamingock_layout1_fixture.flamingock_audit (
    seq bigint NOT NULL,
    schema_version integer NOT NULL,
    execution_id text NOT NULL,
    stage text NOT NULL,
    change_id text NOT NULL,
    change_order bigint NOT NULL,
    author text NOT NULL,
    state text NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    duration_ns bigint NOT NULL,
    host text NOT NULL,
    runner_id text NOT NULL,
    target_id text NOT NULL,
    strategy text NOT NULL,
    recovery text NOT NULL,
    checksum text NOT NULL,
    error_message text NOT NULL,
    error_kind text NOT NULL,
    operator text NOT NULL,
    reason text NOT NULL,
    metadata jsonb
);


--
-- Name: TABLE flamingock_audit; Type: COMMENT; Schema: flamingock_layout1_fixture; Owner: -
--

COMMENT ON TABLE flamingock_layout1_fixture.flamingock_audit IS 'flamingock-go audit trail: append-only, written by the runtime; fix states with the flamingock CLI, not by hand';


--
-- Name: flamingock_audit_seq_seq; Type: SEQUENCE; Schema: flamingock_layout1_fixture; Owner: -
--

ALTER TABLE flamingock_layout1_fixture.flamingock_audit ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME flamingock_layout1_fixture.flamingock_audit_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: flamingock_checkpoint; Type: TABLE; Schema: flamingock_layout1_fixture; Owner: -
--

CREATE TABLE flamingock_layout1_fixture.flamingock_checkpoint (
    digest text NOT NULL,
    seq bigint NOT NULL,
    saved_at timestamp with time zone NOT NULL,
    entries bigint,
    entries_digest text,
    guard text
);


--
-- Name: TABLE flamingock_checkpoint; Type: COMMENT; Schema: flamingock_layout1_fixture; Owner: -
--

COMMENT ON TABLE flamingock_layout1_fixture.flamingock_checkpoint IS 'flamingock-go checkpoints: pipelines found wholly applied up to seq; deleting rows only makes the next start read the whole trail';


--
-- Name: flamingock_lock; Type: TABLE; Schema: flamingock_layout1_fixture; Owner: -
--

CREATE TABLE flamingock_layout1_fixture.flamingock_lock (
    key text NOT NULL,
    owner text NOT NULL,
    epoch bigint NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    released_by text,
    released_at timestamp with time zone
);


--
-- Name: TABLE flamingock_lock; Type: COMMENT; Schema: flamingock_layout1_fixture; Owner: -
--

COMMENT ON TABLE flamingock_layout1_fixture.flamingock_lock IS 'flamingock-go lease lock: release a stuck lock with the flamingock CLI, not by hand';


--
-- Data for Name: flamingock_audit; Type: TABLE DATA; Schema: flamingock_layout1_fixture; Owner: -
--

COPY flamingock_layout1_fixture.flamingock_audit (seq, schema_version, execution_id, stage, change_id, change_order, author, state, occurred_at, duration_ns, host, runner_id, target_id, strategy, recovery, checksum, error_message, error_kind, operator, reason, metadata) FROM stdin;
1	1	exec-2026-03-14-01	schema	0001_create_users	1	ada	STARTED	2026-03-14 09:26:55.089+00	0	build-42	runner-7f3a	app-db	SHARED_TX	MANUAL	sha256:181b					\N
2	1	exec-2026-03-14-01	schema	0001_create_users	1	ada	APPLIED	2026-03-14 09:26:56.589+00	42000000	build-42	runner-7f3a	app-db	SHARED_TX	MANUAL	sha256:181b					\N
3	1	exec-2026-03-14-01	schema	0002_add_email	2	ada	STARTED	2026-03-14 09:26:58.089+00	0	build-42	runner-7f3a	app-db	SHARED_TX	MANUAL	sha256:17fe					\N
4	1	exec-2026-03-14-01	schema	0002_add_email	2	ada	APPLIED	2026-03-14 09:26:59.589+00	7000000	build-42	runner-7f3a	app-db	SHARED_TX	MANUAL	sha256:17fe					\N
5	1	exec-2026-03-14-01	schema	20150101000001_widen_ids	20150101000001	ada	STARTED	2026-03-14 09:27:01.089+00	0	build-42	runner-7f3a	app-db	SHARED_TX	MANUAL	sha256:1860					\N
6	1	exec-2026-03-14-01	schema	20150101000001_widen_ids	20150101000001	ada	APPLIED	2026-03-14 09:27:02.589+00	1250000000	build-42	runner-7f3a	app-db	SHARED_TX	MANUAL	sha256:1860					\N
7	1	exec-2026-03-14-01	data	0012_split	12	ada	STARTED	2026-03-14 09:27:04.089+00	0	build-42	runner-7f3a	app-db	NON_TX	MANUAL	sha256:1009					\N
8	1	exec-2026-03-14-01	data	0012_split	12	ada	FAILED	2026-03-14 09:27:05.589+00	3250000000	build-42	runner-7f3a	app-db	NON_TX	MANUAL	sha256:1009	0012_split.sql:20: pq: duplicate key value violates unique constraint "users_email_key"	*pgconn.PgError			{"progress": {"at": "0012_split.sql:20", "done": 3, "total": 5}}
9	1	manual-2026-03-14-01	data	0012_split	12		MANUAL_MARKED_AS_APPLIED	2026-03-14 09:27:07.089+00	0	build-42		app-db	NON_TX	MANUAL	sha256:1009			grace@example.com	rows 4-5 fixed by hand, see INC-311	\N
10	1	exec-2026-03-14-01	data	0013_backfill	13	ada	STARTED	2026-03-14 09:27:08.589+00	0	build-42	runner-7f3a	app-db	SEPARATE_TX	RETRY	sha256:1028					\N
11	1	exec-2026-03-14-01	data	0013_backfill	13	ada	APPLIED	2026-03-14 09:27:10.089+00	90000000000	build-42	runner-7f3a	app-db	SEPARATE_TX	RETRY	sha256:1028					{"rows": 120000, "batches": [40000, 40000, 40000]}
12	1	exec-2026-03-14-01	data	9223372036854775807_last	9223372036854775807	ada	STARTED	2026-03-14 09:27:11.589+00	0	build-42	runner-7f3a	app-db	SHARED_TX	MANUAL	sha256:1090					\N
13	1	exec-2026-03-14-01	data	9223372036854775807_last	9223372036854775807	ada	FAILED	2026-03-14 09:27:13.089+00	12000000	build-42	runner-7f3a	app-db	SHARED_TX	MANUAL	sha256:1090	context deadline exceeded	deadline			\N
14	1	exec-2026-03-14-01	seed	0000_defaults	0	ada	APPLIED	2026-03-14 09:27:14.589+00	1000000	build-42	runner-7f3a	app-db	SHARED_TX	MANUAL	sha256:1022					\N
15	1	exec-2026-03-14-01	seed	it's "quoted"; -- not SQL	5	Zoë 🐦	APPLIED	2026-03-14 09:27:16.089+00	0	host\twith\ttabs	runner-7f3a	app-db	SHARED_TX	MANUAL	sha256:109f					{"note": "line1\\nline2", "unicode": "é"}
\.


--
-- Data for Name: flamingock_checkpoint; Type: TABLE DATA; Schema: flamingock_layout1_fixture; Owner: -
--

COPY flamingock_layout1_fixture.flamingock_checkpoint (digest, seq, saved_at, entries, entries_digest, guard) FROM stdin;
sha256:pipeline-of-the-fixture	15	2026-12-02 05:08:23.909895+00	15	744742	15/49639/49639/49639/49639
\.


--
-- Data for Name: flamingock_lock; Type: TABLE DATA; Schema: flamingock_layout1_fixture; Owner: -
--

COPY flamingock_layout1_fixture.flamingock_lock (key, owner, epoch, expires_at, released_by, released_at) FROM stdin;
default		1	2026-12-02 05:08:23.910791+00	\N	\N
reports		1	2026-12-02 05:08:23.913463+00	grace@example.com	2026-12-02 05:08:23.913463+00
\.


--
-- Name: flamingock_audit_seq_seq; Type: SEQUENCE SET; Schema: flamingock_layout1_fixture; Owner: -
--

SELECT pg_catalog.setval('flamingock_layout1_fixture.flamingock_audit_seq_seq', 15, true);


--
-- Name: flamingock_audit flamingock_audit_pkey; Type: CONSTRAINT; Schema: flamingock_layout1_fixture; Owner: -
--

ALTER TABLE ONLY flamingock_layout1_fixture.flamingock_audit
    ADD CONSTRAINT flamingock_audit_pkey PRIMARY KEY (seq);


--
-- Name: flamingock_checkpoint flamingock_checkpoint_pkey; Type: CONSTRAINT; Schema: flamingock_layout1_fixture; Owner: -
--

ALTER TABLE ONLY flamingock_layout1_fixture.flamingock_checkpoint
    ADD CONSTRAINT flamingock_checkpoint_pkey PRIMARY KEY (digest);


--
-- Name: flamingock_lock flamingock_lock_pkey; Type: CONSTRAINT; Schema: flamingock_layout1_fixture; Owner: -
--

ALTER TABLE ONLY flamingock_layout1_fixture.flamingock_lock
    ADD CONSTRAINT flamingock_lock_pkey PRIMARY KEY (key);


--
-- Name: flamingock_audit_change_idx; Type: INDEX; Schema: flamingock_layout1_fixture; Owner: -
--

CREATE INDEX flamingock_audit_change_idx ON flamingock_layout1_fixture.flamingock_audit USING btree (stage, change_id, seq);


--
-- Name: flamingock_audit flamingock_void_edit; Type: TRIGGER; Schema: flamingock_layout1_fixture; Owner: -
--

CREATE TRIGGER flamingock_void_edit AFTER DELETE OR UPDATE ON flamingock_layout1_fixture.flamingock_audit FOR EACH STATEMENT EXECUTE FUNCTION flamingock_layout1_fixture.flamingock_void_checkpoints();

ALTER TABLE flamingock_layout1_fixture.flamingock_audit ENABLE ALWAYS TRIGGER flamingock_void_edit;


--
-- Name: flamingock_audit flamingock_void_insert; Type: TRIGGER; Schema: flamingock_layout1_fixture; Owner: -
--

CREATE TRIGGER flamingock_void_insert AFTER INSERT ON flamingock_layout1_fixture.flamingock_audit FOR EACH ROW WHEN ((current_setting('flamingock.appending'::text, true) IS DISTINCT FROM 'on'::text)) EXECUTE FUNCTION flamingock_layout1_fixture.flamingock_void_checkpoints();

ALTER TABLE flamingock_layout1_fixture.flamingock_audit ENABLE ALWAYS TRIGGER flamingock_void_insert;


--
-- Name: flamingock_audit flamingock_void_truncate; Type: TRIGGER; Schema: flamingock_layout1_fixture; Owner: -
--

CREATE TRIGGER flamingock_void_truncate AFTER TRUNCATE ON flamingock_layout1_fixture.flamingock_audit FOR EACH STATEMENT EXECUTE FUNCTION flamingock_layout1_fixture.flamingock_void_checkpoints();

ALTER TABLE flamingock_layout1_fixture.flamingock_audit ENABLE ALWAYS TRIGGER flamingock_void_truncate;


--
-- PostgreSQL database dump complete
--

\unrestrict 2XKCzI30TEgb26Nso1SI5NJJ73ja9SA5vrMyvTKnzSkNzZvdAnyYNeYfDKAqqA2

