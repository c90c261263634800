ac_unit_test(test_skills_breaker ${CMAKE_CURRENT_SOURCE_DIR}/test_breaker.c LIBS ac_skills)
