ac_unit_test(test_skills_dynfile ${CMAKE_CURRENT_SOURCE_DIR}/test_dynfile.c LIBS ac_skills)
