# skills/webread.c (the web_read guard): against servers the test runs itself on 127.0.0.1 (plain HTTP and TLS with a
# certificate made at start) and a sentinel listener on 127.0.0.2 that must never see a connection; DNS answers come
# from the test's resolver hook.
ac_unit_test(test_skills_webread ${CMAKE_CURRENT_SOURCE_DIR}/test_webread.c LIBS ac_skills PkgConfig::SSL)
