ac_unit_test(test_skills_notify ${CMAKE_CURRENT_SOURCE_DIR}/test_notify.c LIBS ac_skills)
ac_unit_test(test_skills_gate ${CMAKE_CURRENT_SOURCE_DIR}/test_gate.c LIBS ac_skills)
