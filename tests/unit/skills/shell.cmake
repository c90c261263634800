# The shell skill end to end: real processes, run as nobody when the tests run as root.
ac_unit_test(test_skills_shell test_shell.c LIBS ac_skills)
