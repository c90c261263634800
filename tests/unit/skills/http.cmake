# skills/html_text.c (pure) and skills/http.c (web_fetch, api_request and the HTTP client), the latter against
# tests/support/http_fixture.py, a local server on 127.0.0.1 that the test starts and stops itself.
ac_unit_test(test_skills_html_text test_html_text.c LIBS ac_skills)
ac_unit_test(test_skills_http test_http.c LIBS ac_skills)
target_compile_definitions(test_skills_http PRIVATE AC_HTTP_FIXTURE="${CMAKE_SOURCE_DIR}/tests/support/http_fixture.py")
