# The coder skill through the node's modules (dynamic skills, the LLM router, 2FA challenges), the real sandbox helper
# and the loopback model server (tests/support/fake_llm.py).
ac_unit_test(test_coder ${CMAKE_CURRENT_SOURCE_DIR}/test_coder.c LIBS ac_node_engine FIXTURES pg)
set_property(TEST test_coder APPEND PROPERTY ENVIRONMENT "AC_SANDBOX_BIN=$<TARGET_FILE:alexclaw-sandbox>")
set_tests_properties(test_coder PROPERTIES TIMEOUT 600)
add_dependencies(test_coder alexclaw-sandbox)
