# skills/llm_wire.c: the LLM providers' wire formats, pure, and each format against tests/support/fake_llm.py (which
# the test starts and stops itself through tests/support/fake_llm.c; AC_SOURCE_DIR from ctest finds it).
ac_unit_test(test_skills_llm_wire ${CMAKE_CURRENT_SOURCE_DIR}/test_llm_wire.c LIBS ac_skills)
