# tests/integration/llm.cmake - the LLM router and provider store (skills/llm.c) against the suite's private
# PostgreSQL server and the loopback providers of tests/support/fake_llm.py.
ac_unit_test(test_llm ${CMAKE_CURRENT_SOURCE_DIR}/test_llm.c LIBS ac_skills FIXTURES pg)
