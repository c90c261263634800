ac_unit_test(test_skills_channel ${CMAKE_CURRENT_SOURCE_DIR}/test_channel.c LIBS ac_skills)
