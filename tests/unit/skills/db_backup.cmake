# skills/db_backup.c: pg_dump + gzip + rotation against the suite's private PostgreSQL server (fixture pg).
ac_unit_test(test_skills_db_backup test_db_backup.c LIBS ac_skills FIXTURES pg)
