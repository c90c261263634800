# tests/integration/llm_skills.cmake - llm_transform, llm_score, conversational and github_security_review against
# the loopback LLM/GitHub stand-in (tests/support/fake_llm.py) and the suite's PostgreSQL server.
ac_unit_test(test_llm_skills ${CMAKE_CURRENT_SOURCE_DIR}/test_llm_skills.c LIBS ac_skills FIXTURES pg)
