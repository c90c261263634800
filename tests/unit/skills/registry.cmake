ac_unit_test(test_skills_registry ${CMAKE_CURRENT_SOURCE_DIR}/test_registry.c LIBS ac_skills)
